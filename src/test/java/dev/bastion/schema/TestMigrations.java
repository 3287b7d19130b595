package dev.bastion.schema;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import dev.bastion.testing.PostgresResource;
import io.vertx.pgclient.PgConnectOptions;
import org.flywaydb.core.api.output.MigrateResult;

/** What the schema tests share: the previous build's history, Flyway's checksums, a migration run. */
final class TestMigrations {

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

    /**
     * The checksums Flyway 11 (quarkus-flyway 3.34.1, the service's migrator before its own runner) wrote
     * to flyway_schema_history for these files on 2026-11-29: a database it migrated must validate here
     * (SchemaMigrationsTest checks Flyway writes them still).
     */
    static final Map<Integer, Integer> FLYWAY_CHECKSUMS = Map.of(1, -1875533734, 2, -925568592, 3, -134835455, 4, 513325486);

    private TestMigrations() {
    }
}
