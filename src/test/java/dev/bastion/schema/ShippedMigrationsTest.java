package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

class ShippedMigrationsTest {

    /**
     * The checksums Flyway 11 (quarkus-flyway 3.34.1, the service's migrator until issue 14) wrote
     * to flyway_schema_history for these files on 2026-11-29: a database it migrated must validate here.
     */
    static final Map<Integer, Integer> FLYWAY_CHECKSUMS = Map.of(1, -1875533734, 2, -925568592, 3, -134835455, 4, 513325486);

    @Test
    void theIndexListsEveryFileOfTheDirectoryInVersionOrder() throws IOException {
        List<String> files;
        try (Stream<Path> directory = Files.list(Path.of("src/main/resources", ShippedMigrations.DIRECTORY))) {
            files = directory.map(p -> ShippedMigrations.DIRECTORY + p.getFileName())
                    .filter(name -> !name.equals(ShippedMigrations.INDEX)).sorted().toList();
        }
        List<Migration> shipped = ShippedMigrations.load();
        assertEquals(files, shipped.stream().map(Migration::script).sorted().toList(), "index.txt and the directory disagree");
        assertEquals(List.of(1, 2, 3, 4), shipped.stream().map(Migration::version).toList());
    }

    @Test
    void checksumsAreTheOnesFlywayWrote() {
        for (Migration migration : ShippedMigrations.load()) {
            if (FLYWAY_CHECKSUMS.containsKey(migration.version())) {
                assertEquals(FLYWAY_CHECKSUMS.get(migration.version()), migration.checksum(), migration.script());
            }
        }
        // line breaks and a byte-order mark do not count, as in Flyway
        assertEquals(Migration.of("V9__x.sql", "SELECT 1;\nSELECT 2;\n").checksum(),
                Migration.of("V9__x.sql", "\uFEFFSELECT 1;\r\nSELECT 2;").checksum());
    }

    @Test
    void namesReadAsFlywayReadsThem() {
        Migration migration = Migration.of("db/migration/V12__named_transfer_keys.sql", "");
        assertEquals(12, migration.version());
        assertEquals("named transfer keys", migration.description());
    }
}
