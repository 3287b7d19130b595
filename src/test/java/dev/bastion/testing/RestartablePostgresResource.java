package dev.bastion.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

/**
 * A PostgreSQL of its own for outage tests: it can be stopped and started again on the same port
 * and data directory while the service keeps running, as a database reboot would.
 */
public class RestartablePostgresResource implements QuarkusTestResourceLifecycleManager {

    private static Path dataDirectory;
    private static int port;
    private static EmbeddedPostgres server;

    @Override
    public Map<String, String> start() {
        try {
            dataDirectory = Files.createTempDirectory("bastion-outage-pg");
            startServer(0);
            port = server.getPort();
            try (Connection c = DriverManager.getConnection(server.getJdbcUrl("postgres", "postgres"));
                 var s = c.createStatement()) {
                s.execute("CREATE DATABASE bastion");
            }
            return PostgresResource.datasource(port);
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the outage test database", e);
        }
    }

    public static synchronized void stopServer() throws IOException {
        server.close();
        server = null;
    }

    public static synchronized void startServerAgain() throws IOException {
        startServer(port);
    }

    private static void startServer(int onPort) throws IOException {
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                .setDataDirectory(dataDirectory)
                .setCleanDataDirectory(false);
        if (onPort > 0) {
            builder.setPort(onPort);
        }
        server = builder.start();
    }

    @Override
    public void stop() {
        try {
            if (server != null) {
                server.close();
            }
        } catch (IOException ignored) {
            // test shutdown
        }
    }
}
