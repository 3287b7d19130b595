package dev.bastion.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

/**
 * A real PostgreSQL for the tests, started by the build itself (no Docker): one server per JVM,
 * shared by every test class, so Quarkus restarts between test profiles do not restart it.
 */
public class PostgresResource implements QuarkusTestResourceLifecycleManager {

    private static EmbeddedPostgres postgres;

    static synchronized EmbeddedPostgres server() {
        if (postgres == null) {
            try {
                postgres = EmbeddedPostgres.builder()
                        .setServerConfig("max_connections", "200")
                        .setServerConfig("deadlock_timeout", "100ms")
                        .start();
                try (Connection c = DriverManager.getConnection(postgres.getJdbcUrl("postgres", "postgres"));
                     var s = c.createStatement()) {
                    s.execute("CREATE DATABASE bastion");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    postgres.close();
                } catch (IOException ignored) {
                    // the JVM is exiting
                }
            }));
        }
        return postgres;
    }

    /** JDBC URL of the test database, for tests that act as a second client (locks, kills). */
    public static String jdbcUrl() {
        return server().getJdbcUrl("postgres", "bastion");
    }

    /** Port of the test PostgreSQL. */
    public static int port() {
        return server().getPort();
    }

    public static Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl());
    }

    @Override
    public Map<String, String> start() {
        return datasource(server().getPort());
    }

    /** Datasource settings for a server on {@code port}, the admin API's test JWT key and the management port. */
    public static Map<String, String> datasource(int port) {
        Map<String, String> config = new java.util.HashMap<>(AdminTokens.verification());
        config.put("quarkus.datasource.reactive.url", "postgresql://localhost:" + port + "/bastion");
        config.put("quarkus.datasource.username", "postgres");
        config.put("quarkus.datasource.password", "postgres");
        // @QuarkusTest binds the management test port; the packaged artifact of *IT binds the normal one
        config.put("quarkus.management.test-port", String.valueOf(Management.PORT));
        config.put("quarkus.management.port", String.valueOf(Management.PORT));
        return config;
    }

    @Override
    public void stop() {
        // shared across test classes; closed when the JVM exits
    }
}
