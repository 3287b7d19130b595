package dev.bastion.schema;

import java.time.Duration;
import java.util.OptionalInt;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.StatementTimeout;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;

/**
 * Whether the database's schema is the one this build needs, for a pod that does not migrate
 * (DB_MIGRATE_AT_START=false): during a release its pods start while the migration Job runs, and take
 * traffic only once Flyway's history holds this build's newest migration (or a newer one: the
 * previous release's pods keep serving through the next release's expand step). Once current it is
 * never asked again: schemas move forward.
 */
@ApplicationScoped
public class SchemaCurrent {

    private static final String APPLIED = "SELECT coalesce(max(version::int), 0) FROM flyway_schema_history "
            + "WHERE success AND version ~ '^[0-9]+$'";
    private static final String UNDEFINED_TABLE = "42P01";

    private final Instance<Pool> pool;
    private final boolean migratedAtStart;
    private final Duration timeout;
    private volatile boolean current;

    public SchemaCurrent(Instance<Pool> pool, DatabaseSettings settings) {
        this.pool = pool;
        this.migratedAtStart = settings.migrateAtStart() || settings.migrateOnly();
        // asked at every readiness probe: bounded like the probe, inside PostgreSQL too, so that probes behind
        // a lock on Flyway's history table do not pile up on the pool's connections
        this.timeout = settings.probeTimeout();
    }

    /** The newest migration the database has, when older than this build's; empty when current. */
    public Uni<OptionalInt> behind() {
        if (migratedAtStart || current) {
            return Uni.createFrom().item(OptionalInt.empty());
        }
        int needed = ShippedMigrations.latestVersion();
        return pool.get().withTransaction(connection -> StatementTimeout.atMost(connection, timeout.toMillis())
                        .chain(() -> connection.query(APPLIED).execute()))
                .ifNoItem().after(timeout).fail()
                .map(rows -> rows.iterator().next().getInteger(0))
                .onFailure(e -> e instanceof PgException pg && UNDEFINED_TABLE.equals(pg.getSqlState())).recoverWithItem(0)
                .map(applied -> {
                    if (applied >= needed) {
                        current = true;
                        return OptionalInt.empty();
                    }
                    return OptionalInt.of(applied);
                });
    }
}
