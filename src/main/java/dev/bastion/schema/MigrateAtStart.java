package dev.bastion.schema;

import java.util.List;

import dev.bastion.database.DatabaseSettings;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.interceptor.Interceptor;
import org.jboss.logging.Logger;

/**
 * Migrates the schema before the service takes traffic: StartupEvent observers finish before Quarkus
 * opens the HTTP ports, so neither a request nor a readiness probe sees an old schema. A failure
 * stops start-up (the pod restarts and tries again). DB_MIGRATE_AT_START=false leaves the schema to
 * someone else, e.g. the Flyway CLI run on {@code src/main/resources/db/migration} with a user that
 * may change it.
 */
@ApplicationScoped
public class MigrateAtStart {

    private static final Logger LOG = Logger.getLogger(MigrateAtStart.class);

    private final Pool pool;
    private final DatabaseSettings settings;

    public MigrateAtStart(Pool pool, DatabaseSettings settings) {
        this.pool = pool;
        this.settings = settings;
    }

    // after the settings check (SettingsCheck), before the observers that schedule work on the tables
    void migrate(@Observes @Priority(Interceptor.Priority.APPLICATION) StartupEvent start) {
        if (!settings.migrateAtStart()) {
            LOG.info("Schema migrations skipped (DB_MIGRATE_AT_START=false)");
            return;
        }
        List<Migration> shipped = ShippedMigrations.load();
        SchemaMigrations.MigrationRun run = SchemaMigrations.migrate(pool, shipped, settings.migrationTimeout()).await().indefinitely();
        for (AppliedMigration newer : run.newerThanThisBuild()) {
            LOG.warnf("Schema migration %s (%s) comes from a newer release; this build leaves it alone",
                    newer.version(), newer.description());
        }
        if (run.applied().isEmpty()) {
            LOG.infof("Schema is up to date (migration %d)", shipped.get(shipped.size() - 1).version());
        } else {
            for (Migration migration : run.applied()) {
                LOG.infof("Schema migrated to %d (%s)", migration.version(), migration.description());
            }
        }
    }
}
