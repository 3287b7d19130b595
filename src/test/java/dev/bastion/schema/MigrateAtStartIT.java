package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.sql.Connection;
import java.sql.Statement;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.TestDatabases;
import org.junit.jupiter.api.Test;

/**
 * The packaged service starting against databases of its own (the migration runs while the rest of
 * start-up does, see MigrateAtStart): a fresh database is migrated before the ports open (no port
 * opens while the migration waits for another pod's lock), and a history this build must refuse stops
 * start-up with the reason, the schema untouched.
 */
class MigrateAtStartIT {

    private static final long START_LIMIT_SECONDS = 120;

    @Test
    void aFreshDatabaseIsMigratedBeforeTheServiceListens() throws Exception {
        String db = TestDatabases.fresh("start_fresh");
        try (Started service = Started.against(db)) {
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
            try (Started service = Started.against(db)) {
                assertTrue(waitFor(service, () -> !TestDatabases.rows(db, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'advisory' "
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
    void aMigrationChangedAfterItWasAppliedStopsStartUp() throws Exception {
        String db = TestDatabases.fresh("start_refused");
        TestDatabases.execute(db, SchemaMigrations.HISTORY_TABLE);
        TestDatabases.execute(db, "INSERT INTO flyway_schema_history VALUES (1, '1', 'customer', 'SQL', 'V1__customer.sql', 12345, "
                + "'postgres', now(), 3, true)");
        try (Started service = Started.against(db)) {
            assertEquals(1, service.exitCode(), service.output());
            assertTrue(service.output().contains("The database schema history does not match this build: "
                    + "migration 1 (customer) changed after it was applied"), service.output());
            assertFalse(service.output().contains("Listening on"), service.output());
        }
        assertEquals(List.of("1"), TestDatabases.rows(db, "SELECT count(*) FROM flyway_schema_history"));
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('customer')::text, '')"), "nothing ran");
    }

    private static boolean waitFor(Started service, Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_LIMIT_SECONDS);
        while (!condition.call()) {
            if (System.nanoTime() > deadline || !service.process().isAlive()) {
                return false;
            }
            Thread.sleep(100);
        }
        return true;
    }

    /** The packaged service (the native binary when one was built, else the jar) on a database of the test server. */
    private record Started(Process process, Path log) implements AutoCloseable {

        static Started against(String db) throws IOException {
            Path nativeBinary = Path.of(System.getProperty("native.image.path", "target/none"));
            List<String> command = new ArrayList<>();
            if (Files.exists(nativeBinary)) {
                command.add(nativeBinary.toString());
            } else {
                Path jar = Path.of("target", "quarkus-app", "quarkus-run.jar");
                assertTrue(Files.exists(jar), "no packaged service at " + jar.toAbsolutePath());
                command.addAll(List.of(ProcessHandle.current().info().command().orElse("java"), "-jar", jar.toString()));
            }
            Path log = Files.createTempFile("bastion-start-", ".log");
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().putAll(java.util.Map.of("DB_HOST", "localhost", "DB_PORT", String.valueOf(PostgresResource.port()),
                    "DB_NAME", db, "DB_USERNAME", "postgres", "DB_PASSWORD", "postgres", "PORT", "0",
                    "MANAGEMENT_PORT", "0", "QUARKUS_LOG_CATEGORY__DEV_BASTION_SCHEMA__LEVEL", "DEBUG"));
            return new Started(builder.start(), log);
        }

        boolean waitForLog(String text) throws Exception {
            return waitFor(this, () -> output().contains(text));
        }

        /** TCP sockets the process listens on (Linux: its socket descriptors matched against /proc/net/tcp*). */
        long listeningSockets() throws IOException {
            Set<String> listening = new HashSet<>();
            for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
                List<String> lines = Files.readAllLines(Path.of(table));
                for (String line : lines.subList(1, lines.size())) { // after the header
                    String[] fields = line.trim().split("\\s+");
                    if (fields[3].equals("0A")) { // st: TCP_LISTEN; fields[9]: the socket's inode
                        listening.add("socket:[" + fields[9] + "]");
                    }
                }
            }
            try (Stream<Path> descriptors = Files.list(Path.of("/proc", String.valueOf(process.pid()), "fd"))) {
                return descriptors.map(fd -> {
                    try {
                        return Files.readSymbolicLink(fd).toString();
                    } catch (IOException closedMeanwhile) {
                        return "";
                    }
                }).filter(listening::contains).count();
            }
        }

        int exitCode() throws InterruptedException {
            assertTrue(process.waitFor(START_LIMIT_SECONDS, TimeUnit.SECONDS), "still running after " + START_LIMIT_SECONDS + " s");
            return process.exitValue();
        }

        String output() throws IOException {
            return Files.readString(log, StandardCharsets.UTF_8);
        }

        @Override
        public void close() throws Exception {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
            Files.deleteIfExists(log);
        }
    }
}
