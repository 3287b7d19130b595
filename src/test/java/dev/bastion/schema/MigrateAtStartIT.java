package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.time.Duration;
import java.sql.Statement;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.bastion.testing.PackagedService;
import dev.bastion.testing.TestDatabases;
import org.junit.jupiter.api.Test;

/**
 * The packaged service and its schema, the three ways it runs: migrating at start (a fresh database
 * is migrated by Flyway before the ports open, and no port opens while another migration holds
 * Flyway's lock; a history this build must refuse stops start-up with the reason), as the release's
 * migration Job (DB_MIGRATE_ONLY: migrate, exit 0), and as a serving pod that does not migrate
 * (unready until the Job has brought the schema to what it needs).
 */
class MigrateAtStartIT {

    /** Flyway's advisory lock on PostgreSQL: a constant plus the hash of the quoted history table's name. */
    static final long FLYWAY_LOCK = 77431708279161L + "\"public\".\"flyway_schema_history\"".hashCode();

    @Test
    void aFreshDatabaseIsMigratedBeforeTheServiceListens() throws Exception {
        String db = TestDatabases.fresh("start_fresh");
        try (PackagedService service = PackagedService.against(db)) {
            assertTrue(service.waitForLog("Listening on"), service.output());
            String log = service.output();
            String last = "Schema migrated to " + ShippedMigrations.latestVersion();
            assertTrue(log.indexOf(last) >= 0 && log.indexOf(last) < log.indexOf("Listening on"), log);
        }
        assertEquals(TestMigrations.shipped(), TestDatabases.rows(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"));
        assertEquals(List.of("customer"), TestDatabases.rows(db, "SELECT to_regclass('customer')::text"));
    }

    @Test
    void neitherPortOpensWhileTheMigrationWaits() throws Exception {
        String db = TestDatabases.fresh("start_waits");
        try (Connection holder = TestDatabases.open(db); Statement lock = holder.createStatement()) {
            lock.execute("SELECT pg_advisory_lock(" + FLYWAY_LOCK + ")"); // what a migrating pod or Job holds
            try (PackagedService service = PackagedService.against(db)) {
                assertTrue(service.waitFor(() -> !TestDatabases.rows(db, "SELECT pid FROM pg_stat_activity "
                        + "WHERE application_name = 'bastion-migrations' AND datname = current_database()").isEmpty()),
                        "the migration never started: " + service.output());
                // Flyway tries the lock again and again: wait for one more try after the first, refused too
                Set<String> tries = new HashSet<>();
                assertTrue(service.waitFor(() -> {
                    tries.addAll(TestDatabases.rows(db, "SELECT query_start::text FROM pg_stat_activity "
                            + "WHERE application_name = 'bastion-migrations' AND query LIKE '%advisory_lock%'"));
                    return tries.size() >= 2;
                }), "Flyway tried the lock " + tries.size() + " time(s): " + service.output());
                assertEquals(0, service.listeningSockets(), "a port opened during the migration: " + service.output());
                assertFalse(service.output().contains("Listening on"), service.output());
                assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('customer')::text, '')"),
                        "the lock was not honoured");

                lock.execute("SELECT pg_advisory_unlock(" + FLYWAY_LOCK + ")");
                assertTrue(service.waitForLog("Listening on"), service.output());
                assertEquals(2, service.listeningSockets(), "the API and the management port: " + service.output());
            }
        }
        assertEquals(TestMigrations.shipped(), TestDatabases.rows(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"));
    }

    @Test
    void aMigrationThatWaitsLongerThanDbMigrationTimeoutStopsStartUp() throws Exception {
        String db = TestDatabases.fresh("start_timeout");
        try (Connection holder = TestDatabases.open(db); Statement lock = holder.createStatement()) {
            lock.execute("SELECT pg_advisory_lock(" + FLYWAY_LOCK + ")"); // another pod migrating, for ever
            try (PackagedService service = PackagedService.against(db, Map.of("DB_MIGRATION_TIMEOUT", "2"))) {
                int status = service.exitCode(); // within the harness's start limit, far above the setting
                assertTrue(status != 0, "start-up must fail: " + service.output());
                assertTrue(service.output().contains("advisory lock"), "the reason is in the log: " + service.output());
                assertFalse(service.output().contains("Listening on"), service.output());
            }
        }
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('customer')::text, '')"), "nothing ran");
    }

    @Test
    void aMigrationChangedAfterItWasAppliedStopsStartUp() throws Exception {
        String db = TestDatabases.fresh("start_refused");
        TestDatabases.execute(db, TestMigrations.PREVIOUS_BUILD_HISTORY);
        TestDatabases.execute(db, "INSERT INTO flyway_schema_history VALUES (1, '1', 'customer', 'SQL', 'db/migration/V1__customer.sql', "
                + "12345, 'postgres', now(), 3, true)");
        try (PackagedService service = PackagedService.against(db)) {
            assertEquals(1, service.exitCode(), service.output());
            assertTrue(service.output().contains("checksum mismatch for migration version 1"), service.output());
            assertFalse(service.output().contains("Listening on"), service.output());
        }
        assertEquals(List.of("1"), TestDatabases.rows(db, "SELECT count(*) FROM flyway_schema_history"));
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('customer')::text, '')"), "nothing ran");
    }

    @Test
    void theMigrationJobMigratesAndExitsWithoutServing() throws Exception {
        String db = TestDatabases.fresh("start_job");
        try (PackagedService job = PackagedService.against(db, Map.of("DB_MIGRATE_ONLY", "true", "DB_MIGRATE_AT_START", "false"))) {
            assertEquals(0, job.exitCode(), job.output());
            assertTrue(job.output().contains("exiting without serving (DB_MIGRATE_ONLY=true)"), job.output());
        }
        assertEquals(TestMigrations.shipped(), TestDatabases.rows(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"));
    }

    @Test
    void aPodThatDoesNotMigrateIsUnreadyUntilTheSchemaIsThere() throws Exception {
        String db = TestDatabases.fresh("start_waits_for_job");
        int management = freePort();
        try (PackagedService pod = PackagedService.against(db, Map.of("DB_MIGRATE_AT_START", "false",
                "PORT", String.valueOf(freePort()), "MANAGEMENT_PORT", String.valueOf(management)))) {
            assertTrue(pod.waitForLog("Listening on"), pod.output());
            HttpResponse<String> before = ready(management);
            assertEquals(503, before.statusCode(), before.body());
            assertTrue(before.body().replaceAll("\\s", "").contains("\"neededMigration\":" + ShippedMigrations.latestVersion()),
                    before.body());
            assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('flyway_schema_history')::text, '')"),
                    "a serving pod never migrates");

            TestMigrations.migrate(db); // the release's migration Job
            assertTrue(pod.waitFor(() -> ready(management).statusCode() == 200), ready(management).body());
            assertFalse(pod.output().contains("[org.flywaydb") || pod.output().contains("Schema migrated"),
                    "Flyway stays out of a serving pod: " + pod.output());
        }
    }

    @Test
    void readinessProbesBehindALockedHistoryTableAreAnsweredAndDoNotPileUpInPostgres() throws Exception {
        String db = TestDatabases.fresh("start_history_locked");
        // an older release's history, as far as the readiness question reads it
        TestDatabases.execute(db, "CREATE TABLE flyway_schema_history (version varchar(50), success boolean NOT NULL)");
        int management = freePort();
        try (PackagedService pod = PackagedService.against(db, Map.of("DB_MIGRATE_AT_START", "false", "BASTION_DB_PROBE_TIMEOUT", "1",
                "PORT", String.valueOf(freePort()), "MANAGEMENT_PORT", String.valueOf(management)));
             Connection holder = TestDatabases.open(db); Statement lock = holder.createStatement()) {
            assertTrue(pod.waitForLog("Listening on"), pod.output());
            holder.setAutoCommit(false);
            lock.execute("LOCK TABLE flyway_schema_history IN ACCESS EXCLUSIVE MODE"); // a VACUUM FULL of it, say
            for (int probe = 0; probe < 5; probe++) {
                long start = System.nanoTime();
                HttpResponse<String> answer = ready(management);
                long tookMillis = (System.nanoTime() - start) / 1_000_000;
                assertEquals(503, answer.statusCode(), answer.body());
                assertTrue(answer.body().contains("flyway_schema_history"), answer.body());
                assertTrue(tookMillis < 2_500, "a probe answered in " + tookMillis + " ms");
            }
            // inside PostgreSQL too: each probe's question ended at its statement_timeout (before, every probe
            // kept a pool connection waiting for as long as the lock)
            Thread.sleep(1_500);
            assertEquals(List.of(), TestDatabases.rows(db, "SELECT pid::text FROM pg_stat_activity "
                    + "WHERE application_name = 'bastion' AND wait_event_type = 'Lock'"), "probes still waiting on the lock");

            holder.rollback();
            TestDatabases.execute(db, "DROP TABLE flyway_schema_history");
            TestMigrations.migrate(db);
            assertTrue(pod.waitFor(() -> ready(management).statusCode() == 200), ready(management).body());
        }
    }

    private static HttpResponse<String> ready(int port) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/health/ready"))
                        .timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
