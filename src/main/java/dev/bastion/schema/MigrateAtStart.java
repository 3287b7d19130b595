package dev.bastion.schema;

import java.time.Duration;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.FailureClassifier;
import dev.bastion.database.FailureKind;
import dev.bastion.database.GuardedPoolCreator;
import dev.bastion.database.UnsupportedPostgresException;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.interceptor.Interceptor;
import org.flywaydb.core.api.output.MigrateResult;
import org.jboss.logging.Logger;

/**
 * Where the schema migrations run, by Flyway ({@link FlywayMigrations}):
 * <ul>
 * <li>DB_MIGRATE_AT_START=true (the default: a laptop, the tests, a plain {@code java -jar}): before
 * the service takes traffic. StartupEvent observers finish before Quarkus opens the HTTP ports, so
 * neither a request nor a readiness probe sees an old schema; a failure stops start-up.</li>
 * <li>DB_MIGRATE_ONLY=true: the same, then exit 0 without serving: the Kubernetes Job that migrates
 * once per release, with a user that may change the schema ({@code k8s/migration-job.yaml}).</li>
 * <li>DB_MIGRATE_AT_START=false: the serving pods of that release. They load neither Flyway nor the
 * JDBC driver, and stay unready until the schema they need is there ({@link SchemaCurrent}).</li>
 * </ul>
 */
@ApplicationScoped
public class MigrateAtStart {

    private static final Logger LOG = Logger.getLogger(MigrateAtStart.class);
    /** How long a first login may be slow before start-up fails with the pool's own error: not a hung one. */
    private static final long SLOW_LOGIN_MILLIS = 10_000;

    private final Instance<Pool> pool;
    private final GuardedPoolCreator poolCreator;
    private final DatabaseSettings settings;

    public MigrateAtStart(Instance<Pool> pool, GuardedPoolCreator poolCreator, DatabaseSettings settings) {
        this.pool = pool;
        this.poolCreator = poolCreator;
        this.settings = settings;
    }

    // after the settings check (SettingsCheck), before the observers that schedule work on the tables
    void migrate(@Observes @Priority(Interceptor.Priority.APPLICATION) StartupEvent start) {
        if (!settings.migrateAtStart() && !settings.migrateOnly()) {
            LOG.infof("Schema migrations skipped (DB_MIGRATE_AT_START=false): ready once the schema is at migration %d",
                    ShippedMigrations.latestVersion());
            return;
        }
        // one pooled connection first: it finds the writer (DB_HOSTS), reads the credentials as they are
        // now (DB_PASSWORD_FILE), and the server's version, which must be supported before anything runs.
        // The pool's borrow times out after a short DB_REQUEST_TIMEOUT (0.1 s) while a cold JVM's first login
        // takes longer; the pool goes on opening that connection, so the borrow is tried again for up to 10 s
        // (within the migration's own timeout) instead of failing start-up; a login that hangs still fails it
        var target = pool.get().getConnection()
                .onFailure(MigrateAtStart::borrowTimedOut).retry().withBackOff(Duration.ofMillis(50), Duration.ofSeconds(1))
                .expireIn(Math.min(settings.migrationTimeout().toMillis(), SLOW_LOGIN_MILLIS)) // then the last failure
                .invoke(connection -> UnsupportedPostgresException.requireSupported(connection.databaseMetadata().majorVersion(),
                        connection.databaseMetadata().fullVersion()))
                .call(connection -> connection.close())
                .chain(ignored -> io.smallrye.mutiny.Uni.createFrom().completionStage(
                        poolCreator.freshConnectOptions().toCompletionStage()))
                .await().atMost(settings.migrationTimeout());
        MigrateResult result = new FlywayMigrations(target, settings.migrationTimeout(), settings.migrationLockTimeout(),
                new ShippedMigrations()).migrate();
        if (result.migrationsExecuted == 0) {
            LOG.infof("Schema is up to date (migration %s)", result.initialSchemaVersion);
        } else {
            result.migrations.forEach(m -> LOG.infof("Schema migrated to %s (%s, %d ms)", m.version, m.description, m.executionTime));
        }
        result.warnings.forEach(LOG::warn);
        if (settings.migrateOnly()) {
            LOG.info("Schema migrated; exiting without serving (DB_MIGRATE_ONLY=true)");
            Quarkus.asyncExit(0);
        }
    }

    private static boolean borrowTimedOut(Throwable error) {
        return FailureClassifier.classify(error).kind() == FailureKind.POOL_EXHAUSTED;
    }
}
