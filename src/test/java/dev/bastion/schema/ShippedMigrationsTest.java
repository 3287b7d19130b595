package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.flywaydb.core.api.resource.LoadableResource;
import org.junit.jupiter.api.Test;

/** The shipped files as Flyway gets them: every file listed, under the names the history holds. */
class ShippedMigrationsTest {

    @Test
    void theIndexListsEveryFileOfTheDirectoryInVersionOrder() throws IOException {
        List<String> files;
        try (Stream<Path> directory = Files.list(Path.of("src/main/resources", ShippedMigrations.DIRECTORY))) {
            files = directory.map(p -> p.getFileName().toString()).filter(name -> !name.equals(ShippedMigrations.INDEX)).sorted().toList();
        }
        List<String> listed = ShippedMigrations.files(ShippedMigrations.DIRECTORY);
        assertEquals(files, listed.stream().sorted().toList(), "index.txt and the directory disagree");
        assertEquals(6, ShippedMigrations.latestVersion());
    }

    @Test
    void flywayGetsEachScriptUnderTheNameTheHistoryHolds() {
        List<String> versioned = new ShippedMigrations().getResources("V", new String[] {".sql"}).stream()
                .map(LoadableResource::getRelativePath).toList();
        assertEquals(List.of("db/migration/V1__customer.sql", "db/migration/V2__idempotency_key.sql",
                "db/migration/V3__credit_transfer.sql", "db/migration/V4__named_transfer_foreign_keys.sql",
                "db/migration/V5__credit_transfer_created_index.sql", "db/migration/V6__idempotency_key_autovacuum.sql"), versioned);
        assertEquals(0, new ShippedMigrations().getResources("R", new String[] {".sql"}).size());
        assertEquals(List.of("V100__next.sql"), new ShippedMigrations("db/test-next/").getResources("V100", new String[] {".sql"})
                .stream().map(LoadableResource::getFilename).toList());
        assertEquals(null, new ShippedMigrations().getResource("V1__customer.sql.conf"));
        assertEquals(Arrays.asList("db/migration/V1__customer.sql"),
                List.of(new ShippedMigrations().getResource("V1__customer.sql").getRelativePath()));
    }
}
