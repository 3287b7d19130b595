package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.ZipFile;

import dev.bastion.testing.PackagedService;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A real PostgreSQL 12, older than the oldest this build supports (13): the packaged service refuses it
 * at start-up before migrating anything, and a pod that does not migrate stays unready, saying why.
 * The binaries are the embedded ones the tests use, version 12, copied by the build (pom.xml,
 * pre-integration-test).
 */
class UnsupportedServerIT {

    private static final Path BINARIES = Path.of("target/postgres-12/postgres-12-binaries.jar");
    private static EmbeddedPostgres postgres12;

    @BeforeAll
    static void startPostgres12() throws Exception {
        assertTrue(Files.exists(BINARIES), BINARIES + " is copied by ./mvnw verify (maven-dependency-plugin)");
        postgres12 = EmbeddedPostgres.builder().setPgBinaryResolver((system, hardware) -> {
            ZipFile jar = new ZipFile(BINARIES.toFile()); // closed with the stream zonky reads it through
            var entry = jar.stream().filter(e -> e.getName().endsWith(".txz")).findFirst().orElseThrow();
            return new java.io.FilterInputStream(jar.getInputStream(entry)) {
                @Override
                public void close() throws java.io.IOException {
                    super.close();
                    jar.close();
                }
            };
        }).start();
        try (var c = postgres12.getPostgresDatabase().getConnection(); var s = c.createStatement();
             var r = s.executeQuery("SHOW server_version_num")) {
            r.next();
            assertTrue(r.getInt(1) / 10000 == 12, "a PostgreSQL 12 server: " + r.getInt(1));
            s.execute("CREATE DATABASE bastion");
        }
    }

    @AfterAll
    static void stopPostgres12() throws Exception {
        if (postgres12 != null) {
            postgres12.close();
        }
    }

    private static Map<String, String> on12(Map<String, String> more) {
        Map<String, String> env = new java.util.HashMap<>(Map.of("DB_PORT", String.valueOf(postgres12.getPort()), "DB_NAME", "bastion"));
        env.putAll(more);
        return env;
    }

    @Test
    void startUpStopsBeforeAnythingIsMigrated() throws Exception {
        try (PackagedService service = PackagedService.against("bastion", on12(Map.of()))) {
            assertEquals(1, service.exitCode(), service.output());
            assertTrue(service.output().contains("is older than 13, the oldest this build supports"), service.output());
            assertFalse(service.output().contains("Listening on"), service.output());
        }
        try (var c = postgres12.getDatabase("postgres", "bastion").getConnection(); var s = c.createStatement();
             var r = s.executeQuery("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")) {
            r.next();
            assertEquals(0, r.getInt(1), "nothing was created");
        }
    }

    @Test
    void aPodThatDoesNotMigrateStaysUnreadyAndSaysWhy() throws Exception {
        int management = freePort();
        try (PackagedService pod = PackagedService.against("bastion", on12(Map.of("DB_MIGRATE_AT_START", "false",
                "PORT", String.valueOf(freePort()), "MANAGEMENT_PORT", String.valueOf(management))))) {
            assertTrue(pod.waitForLog("Listening on"), pod.output());
            HttpResponse<String> ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + management + "/q/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, ready.statusCode(), ready.body());
            assertTrue(ready.body().contains("older than 13"), ready.body());
        }
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
