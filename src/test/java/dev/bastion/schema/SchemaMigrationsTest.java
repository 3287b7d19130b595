package dev.bastion.schema;

import static dev.bastion.schema.TestMigrations.FLYWAY_CHECKSUMS;
import static dev.bastion.schema.TestMigrations.PREVIOUS_BUILD_HISTORY;
import static dev.bastion.schema.TestMigrations.WAIT;
import static dev.bastion.schema.TestMigrations.migrate;
import static dev.bastion.schema.TestMigrations.shipped;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.TestDatabases;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.Test;

/**
 * The migrations, run by Flyway, against real PostgreSQL databases, each test on a database of its
 * own: the history a database migrated by the previous build already holds, pods starting together,
 * a migration that fails half-way, and histories Flyway must refuse or leave alone.
 */
class SchemaMigrationsTest {

    private static List<String> history(String db) throws SQLException {
        return TestDatabases.rows(db, "SELECT installed_rank || ' ' || version || ' ' || description || ' ' || type || ' ' "
                + "|| script || ' ' || coalesce(checksum::text, '-') || ' ' || success FROM flyway_schema_history ORDER BY 1");
    }

    @Test
    void aFreshDatabaseGetsEveryMigrationRecordedAsFlywayRecordsIt() throws Exception {
        String db = TestDatabases.fresh("schema");
        MigrateResult run = migrate(db);

        assertEquals(shipped(), run.migrations.stream().map(m -> m.version).toList());
        List<String> history = history(db);
        assertEquals(List.of(
                "1 1 customer SQL db/migration/V1__customer.sql " + FLYWAY_CHECKSUMS.get(1) + " true",
                "2 2 idempotency key SQL db/migration/V2__idempotency_key.sql " + FLYWAY_CHECKSUMS.get(2) + " true",
                "3 3 credit transfer SQL db/migration/V3__credit_transfer.sql " + FLYWAY_CHECKSUMS.get(3) + " true",
                "4 4 named transfer foreign keys SQL db/migration/V4__named_transfer_foreign_keys.sql "
                        + FLYWAY_CHECKSUMS.get(4) + " true"), history.subList(0, 4));
        assertTrue(history.get(4).startsWith("5 5 credit transfer created index SQL db/migration/V5__credit_transfer_created_index.sql "),
                history.get(4));
        assertEquals(List.of("true"), TestDatabases.rows(db, "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'credit_transfer_created_idx'::regclass"));

        assertEquals(0, migrate(db).migrationsExecuted, "an up-to-date schema runs nothing");
        assertEquals(List.of(String.valueOf(shipped().size())), TestDatabases.rows(db, "SELECT count(*) FROM flyway_schema_history"));
    }

    @Test
    void aDatabaseMigratedByThePreviousBuildContinuesWithoutABaseline() throws Exception {
        String db = TestDatabases.fresh("schema");
        TestDatabases.execute(db, PREVIOUS_BUILD_HISTORY);
        String[][] previous = {{"1", "customer", "V1__customer.sql"}, {"2", "idempotency key", "V2__idempotency_key.sql"},
                {"3", "credit transfer", "V3__credit_transfer.sql"}, {"4", "named transfer foreign keys", "V4__named_transfer_foreign_keys.sql"}};
        for (String[] m : previous) { // what the previous build ran and recorded
            try (var in = getClass().getClassLoader().getResourceAsStream("db/migration/" + m[2])) {
                TestDatabases.execute(db, new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
            }
            TestDatabases.execute(db, "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, "
                    + "installed_by, execution_time, success) VALUES (" + m[0] + ", '" + m[0] + "', '" + m[1] + "', 'SQL', 'db/migration/"
                    + m[2] + "', " + FLYWAY_CHECKSUMS.get(Integer.parseInt(m[0])) + ", 'postgres', 3, true)");
        }

        MigrateResult run = migrate(db);
        assertEquals(shipped().subList(4, shipped().size()), run.migrations.stream().map(m -> m.version).toList(),
                "only what the previous build did not ship");
        assertEquals(shipped(), TestDatabases.rows(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"));
    }

    @Test
    void podsStartingTogetherApplyEachMigrationOnce() throws Exception {
        String db = TestDatabases.fresh("schema");
        ExecutorService pods = Executors.newFixedThreadPool(3);
        try {
            List<CompletableFuture<MigrateResult>> starts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                starts.add(CompletableFuture.supplyAsync(() -> migrate(db), pods));
            }
            int executed = 0;
            for (CompletableFuture<MigrateResult> start : starts) {
                executed += start.get(WAIT.toSeconds(), TimeUnit.SECONDS).migrationsExecuted;
            }
            assertEquals(shipped().size(), executed, "each migration ran in exactly one pod");
        } finally {
            pods.shutdownNow();
        }
        assertEquals(shipped(), TestDatabases.rows(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"));
    }

    @Test
    void aMigrationThatFailsHalfWayLeavesNothingOfItBehind() throws Exception {
        String db = TestDatabases.fresh("schema");
        FlywayException failure = assertThrows(FlywayException.class, () -> migrate(db, "db/test-broken/"));
        assertTrue(failure.getMessage().contains("V100__half_done.sql"), failure.getMessage());
        assertEquals(List.of(String.valueOf(shipped().size())), TestDatabases.rows(db, "SELECT count(*) FROM flyway_schema_history"),
                "no failed row is recorded");
        assertEquals(List.of("0"), TestDatabases.rows(db, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'half'"),
                "its own transaction: rolled back whole");
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('half_done')::text, '')"));
    }

    @Test
    void aFileChangedAfterItWasAppliedStopsTheMigration() throws Exception {
        String db = TestDatabases.fresh("schema");
        migrate(db);
        TestDatabases.execute(db, "UPDATE flyway_schema_history SET checksum = checksum + 1 WHERE version = '2'");

        FlywayException refused = assertThrows(FlywayException.class, () -> migrate(db, "db/test-next/"));
        assertTrue(refused.getMessage().contains("checksum mismatch for migration version 2"), refused.getMessage());
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('later')::text, '')"), "nothing pending ran");
    }

    @Test
    void aRecordedFailureStopsTheMigrationUntilRepaired() throws Exception {
        String db = TestDatabases.fresh("schema");
        migrate(db);
        record(db, 100, "next", false);

        FlywayException refused = assertThrows(FlywayException.class, () -> migrate(db, "db/test-next/"));
        assertTrue(refused.getMessage().contains("failed migration to version 100"), refused.getMessage());
    }

    @Test
    void migrationsOfANewerReleaseAreLeftAlone() throws Exception {
        String db = TestDatabases.fresh("schema");
        migrate(db);
        record(db, 200, "newer release", true);

        assertEquals(0, migrate(db).migrationsExecuted, "a rolled-back release starts on the newer schema");
    }

    @Test
    void aShippedMigrationOlderThanAnAppliedOneIsRefused() throws Exception {
        String db = TestDatabases.fresh("schema");
        migrate(db);
        record(db, 200, "newer release", true);

        FlywayException refused = assertThrows(FlywayException.class, () -> migrate(db, "db/test-next/"));
        assertTrue(refused.getMessage().contains("100"), refused.getMessage());
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('later')::text, '')"),
                "never applied out of order");
    }

    /** A history row for a migration this build does not ship, as Flyway writes one. */
    private static void record(String db, int version, String description, boolean success) throws SQLException {
        TestDatabases.execute(db, "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, "
                + "installed_by, execution_time, success) SELECT max(installed_rank) + 1, '" + version + "', '" + description
                + "', 'SQL', 'db/migration/V" + version + "__" + description.replace(' ', '_') + ".sql', 7, 'postgres', 3, " + success
                + " FROM flyway_schema_history");
    }
}
