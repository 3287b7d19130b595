package dev.bastion.schema;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.PoolCreated;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.interceptor.Interceptor;
import org.jboss.logging.Logger;

/**
 * Migrates the schema before the service takes traffic: StartupEvent observers finish before Quarkus
 * opens the HTTP ports, so neither a request nor a readiness probe sees an old schema. A failure
 * stops start-up (the pod restarts and tries again). DB_MIGRATE_AT_START=false leaves the schema to
 * someone else, e.g. the Flyway CLI run on {@code src/main/resources/db/migration} with a user that
 * may change it.
 * <p>
 * The migration starts as soon as the pool exists ({@link PoolCreated}, on Hibernate Reactive's
 * start-up thread) and runs while the main thread initialises the rest; StartupEvent only waits for
 * its outcome. Start-up to ready: about 0.1 s less (bench/startup, README "Cost per request").
 */
@ApplicationScoped
public class MigrateAtStart {

    private static final Logger LOG = Logger.getLogger(MigrateAtStart.class);

    // the pool is looked up only when no PoolCreated came first: injecting it would build it here,
    // and the PoolCreated observer runs while it is being built
    private final Instance<Pool> pool;
    private final DatabaseSettings settings;
    // the one migration run of this start, set by whichever of the two observers comes first
    private final AtomicReference<Uni<SchemaMigrations.MigrationRun>> run = new AtomicReference<>();

    public MigrateAtStart(Instance<Pool> pool, DatabaseSettings settings) {
        this.pool = pool;
        this.settings = settings;
    }

    void begin(@Observes PoolCreated created) {
        if (settings.migrateAtStart()) {
            start(() -> Pool.newInstance(created.pool()), "as the pool was created");
        }
    }

    // after the settings check (SettingsCheck), before the observers that schedule work on the tables
    void migrate(@Observes @Priority(Interceptor.Priority.APPLICATION) StartupEvent start) {
        if (!settings.migrateAtStart()) {
            LOG.info("Schema migrations skipped (DB_MIGRATE_AT_START=false)");
            return;
        }
        SchemaMigrations.MigrationRun outcome = start(pool::get, "at the start-up event").await().indefinitely();
        for (AppliedMigration newer : outcome.newerThanThisBuild()) {
            LOG.warnf("Schema migration %s (%s) comes from a newer release; this build leaves it alone",
                    newer.version(), newer.description());
        }
        if (outcome.applied().isEmpty()) {
            LOG.infof("Schema is up to date (migration %d)", outcome.latestShipped());
        } else {
            for (Migration migration : outcome.applied()) {
                LOG.infof("Schema migrated to %d (%s)", migration.version(), migration.description());
            }
        }
    }

    /**
     * The migration run of this start: the first call begins it, every call gets its outcome. Lazy and
     * lock-free on purpose: if StartupEvent comes first, looking the pool up builds it, which fires
     * PoolCreated and calls this again on the same thread; a failure (even loading the shipped files)
     * becomes the run's outcome, thrown at StartupEvent, never an exception out of the pool's creation.
     */
    private Uni<SchemaMigrations.MigrationRun> start(Supplier<Pool> on, String when) {
        Uni<SchemaMigrations.MigrationRun> candidate = Uni.createFrom()
                .deferred(() -> SchemaMigrations.migrate(on.get(), ShippedMigrations.load(), settings.migrationTimeout()))
                .memoize().indefinitely();
        if (run.compareAndSet(null, candidate)) {
            LOG.debugf("Schema migration started %s", when);
            candidate.subscribe().with(ignored -> { }, ignored -> { }); // the outcome is read (and a failure thrown) at StartupEvent
        }
        return run.get();
    }
}
