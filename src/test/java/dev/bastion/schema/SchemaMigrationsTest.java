package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.TestDatabases;
import io.vertx.pgclient.PgConnectOptions;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.Test;

/**
 * The migrations, run by Flyway, against real PostgreSQL databases, each test on a database of its
 * own: the history a database migrated by the previous build already holds, pods starting together,
 * a migration that fails half-way, and histories Flyway must refuse or leave alone.
 */
class SchemaMigrationsTest {

    static final Duration WAIT = Duration.ofSeconds(60);

    /**
     * The history table as the previous build's own migrator (and Flyway under Quarkus before it)
     * created it, and the rows it wrote for V1 to V4: a database it migrated must continue here.
     */
    static final String PREVIOUS_BUILD_HISTORY = """
            CREATE TABLE flyway_schema_history (
                installed_rank INT NOT NULL, version VARCHAR(50), description VARCHAR(200) NOT NULL,
                type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INTEGER,
                installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(),
                execution_time INTEGER NOT NULL, success BOOLEAN NOT NULL,
                CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank));
            CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);
            """;

    /** "1" to the newest version this build ships. */
    static List<String> shipped() {
        return java.util.stream.IntStream.rangeClosed(1, ShippedMigrations.latestVersion()).mapToObj(String::valueOf).toList();
    }

    static MigrateResult migrate(String db, String... testDirectories) {
        return migrate(db, Duration.ofSeconds(2), testDirectories);
    }

    static MigrateResult migrate(String db, Duration lockTimeout, String... testDirectories) {
        return new FlywayMigrations(target(db), WAIT, lockTimeout, new ShippedMigrations(testDirectories)).migrate();
    }

    static PgConnectOptions target(String db) {
        return new PgConnectOptions().setHost("localhost").setPort(PostgresResource.port()).setDatabase(db)
                .setUser("postgres").setPassword("postgres");
    }

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
                "1 1 customer SQL db/migration/V1__customer.sql " + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(1) + " true",
                "2 2 idempotency key SQL db/migration/V2__idempotency_key.sql " + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(2) + " true",
                "3 3 credit transfer SQL db/migration/V3__credit_transfer.sql " + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(3) + " true",
                "4 4 named transfer foreign keys SQL db/migration/V4__named_transfer_foreign_keys.sql "
                        + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(4) + " true"), history.subList(0, 4));
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
                    + m[2] + "', " + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(Integer.parseInt(m[0])) + ", 'postgres', 3, true)");
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
