package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.regex.Pattern;

import dev.bastion.testing.PackagedService;
import dev.bastion.testing.TestDatabases;
import org.junit.jupiter.api.Test;

/**
 * The packaged service starting against databases of its own (the migration runs while the rest of
 * start-up does, see MigrateAtStart): a fresh database is migrated before the ports open (no port
 * opens while the migration waits for another pod's lock), and a history this build must refuse stops
 * start-up with the reason, the schema untouched.
 */
class MigrateAtStartIT {

    @Test
    void aFreshDatabaseIsMigratedBeforeTheServiceListens() throws Exception {
        String db = TestDatabases.fresh("start_fresh");
        try (PackagedService service = PackagedService.against(db)) {
            assertTrue(service.waitForLog("Listening on"), service.output());
            String log = service.output();
            assertTrue(log.indexOf("Schema migrated to 4") >= 0
                    && log.indexOf("Schema migrated to 4") < log.indexOf("Listening on"), log);
        }
        assertEquals(List.of("1", "2", "3", "4"), TestDatabases.rows(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"));
        assertEquals(List.of("customer"), TestDatabases.rows(db, "SELECT to_regclass('customer')::text"));
    }

    @Test
    void neitherPortOpensWhileTheMigrationWaits() throws Exception {
        String db = TestDatabases.fresh("start_waits");
        try (Connection holder = TestDatabases.open(db); Statement lock = holder.createStatement()) {
            lock.execute("SELECT pg_advisory_lock(" + SchemaMigrations.LOCK_KEY + ")"); // what a migrating pod holds
            try (PackagedService service = PackagedService.against(db)) {
                assertTrue(service.waitFor(() -> !TestDatabases.rows(db, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'advisory' "
                        + "AND application_name = 'bastion' AND datname = current_database()").isEmpty()),
                        "the migration never queued for the lock: " + service.output());
                Thread.sleep(1000); // time enough for a port to open, if one did not wait for the migration
                assertEquals(0, service.listeningSockets(), "a port opened during the migration: " + service.output());
                assertFalse(service.output().contains("Listening on"), service.output());
                // begun on the thread that builds the pool, while the main thread initialised the rest
                assertTrue(Pattern.compile("\\((?!main\\))[^)]*\\) Schema migration started as the pool was created")
                        .matcher(service.output()).find(), service.output());

                lock.execute("SELECT pg_advisory_unlock(" + SchemaMigrations.LOCK_KEY + ")");
                assertTrue(service.waitForLog("Listening on"), service.output());
                assertEquals(2, service.listeningSockets(), "the API and the management port: " + service.output());
            }
        }
        assertEquals(List.of("1", "2", "3", "4"), TestDatabases.rows(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"));
    }

    @Test
    void aMigrationThatWaitsLongerThanDbMigrationTimeoutStopsStartUp() throws Exception {
        String db = TestDatabases.fresh("start_timeout");
        try (Connection holder = TestDatabases.open(db); Statement lock = holder.createStatement()) {
            lock.execute("SELECT pg_advisory_lock(" + SchemaMigrations.LOCK_KEY + ")"); // another pod migrating, for ever
            long started = System.nanoTime();
            try (PackagedService service = PackagedService.against(db, java.util.Map.of("DB_MIGRATION_TIMEOUT", "2"))) {
                int status = service.exitCode();
                double seconds = (System.nanoTime() - started) / 1e9;
                assertTrue(status != 0, "start-up must fail: " + service.output());
                assertTrue(service.output().contains("statement timeout"), "the reason is in the log: " + service.output());
                assertFalse(service.output().contains("Listening on"), service.output());
                // bounded by the setting, not by the test's patience (start-up itself takes a few seconds here)
                assertTrue(seconds < 60, "gave up after " + seconds + " s: " + service.output());
            }
        }
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('customer')::text, '')"), "nothing ran");
    }

    @Test
    void aMigrationChangedAfterItWasAppliedStopsStartUp() throws Exception {
        String db = TestDatabases.fresh("start_refused");
        TestDatabases.execute(db, SchemaMigrations.HISTORY_TABLE);
        TestDatabases.execute(db, "INSERT INTO flyway_schema_history VALUES (1, '1', 'customer', 'SQL', 'V1__customer.sql', 12345, "
                + "'postgres', now(), 3, true)");
        try (PackagedService service = PackagedService.against(db)) {
            assertEquals(1, service.exitCode(), service.output());
            assertTrue(service.output().contains("The database schema history does not match this build: "
                    + "migration 1 (customer) changed after it was applied"), service.output());
            assertFalse(service.output().contains("Listening on"), service.output());
        }
        assertEquals(List.of("1"), TestDatabases.rows(db, "SELECT count(*) FROM flyway_schema_history"));
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('customer')::text, '')"), "nothing ran");
    }

}
