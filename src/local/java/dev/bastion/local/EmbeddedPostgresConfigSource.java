package dev.bastion.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;
import java.util.Set;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * Local runs only (Maven profile {@code local}, never in the production artifact): when no database
 * is configured (no DB_HOST, no QUARKUS_DATASOURCE_REACTIVE_URL), starts an embedded PostgreSQL
 * and points the datasource at it. The server is started once per JVM: dev-mode restarts re-create
 * this source in a new class loader, so the port is remembered in a system property.
 */
public class EmbeddedPostgresConfigSource implements ConfigSource {

    private static final String PORT_PROPERTY = "bastion.local.postgres.port";
    private static final Set<String> KEYS = Set.of("quarkus.datasource.reactive.url", "quarkus.datasource.username",
            "quarkus.datasource.password");

    private final boolean active = System.getenv("DB_HOST") == null
            && System.getenv("QUARKUS_DATASOURCE_REACTIVE_URL") == null
            && System.getProperty("quarkus.datasource.reactive.url") == null;

    @Override
    public Set<String> getPropertyNames() {
        return active ? KEYS : Set.of();
    }

    @Override
    public String getValue(String name) {
        if (!active || !KEYS.contains(name)) {
            return null;
        }
        int port = port();
        return Map.of(
                "quarkus.datasource.reactive.url", "postgresql://localhost:" + port + "/bastion",
                "quarkus.datasource.username", "postgres",
                "quarkus.datasource.password", "postgres").get(name);
    }

    @Override
    public String getName() {
        return "embedded-postgresql (local profile)";
    }

    @Override
    public int getOrdinal() {
        return 275; // above application.properties (250), below environment variables (300)
    }

    private static synchronized int port() {
        String known = System.getProperty(PORT_PROPERTY);
        if (known != null) {
            return Integer.parseInt(known);
        }
        try {
            EmbeddedPostgres postgres = EmbeddedPostgres.builder().start();
            try (Connection c = DriverManager.getConnection(postgres.getJdbcUrl("postgres", "postgres"));
                 var s = c.createStatement()) {
                s.execute("CREATE DATABASE bastion");
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    postgres.close();
                } catch (IOException ignored) {
                    // exiting anyway
                }
            }));
            System.setProperty(PORT_PROPERTY, Integer.toString(postgres.getPort()));
            System.out.println("Bastion (local profile): no database configured, embedded PostgreSQL started on port "
                    + postgres.getPort() + " (data is discarded on exit)");
            return postgres.getPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the embedded PostgreSQL", e);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create the bastion database", e);
        }
    }
}
