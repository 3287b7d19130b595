package dev.bastion.schema;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.bastion.database.UnsupportedPostgresException;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * Brings a database up to the shipped migrations over the reactive pool, in one transaction:
 * everything pending commits together or nothing does (PostgreSQL's DDL is transactional), so a
 * failed migration leaves neither half a schema nor a failed history row behind.
 * <p>
 * The history is Flyway's own table, {@code flyway_schema_history}, written as Flyway writes it
 * (same columns and checksums): databases Flyway migrated for earlier releases continue as they are,
 * an earlier release rolled back to still validates, and the Flyway CLI can read or repair it.
 * Flyway itself stays out of the service: through JDBC it brought a second connection pool and a
 * transaction manager for a few statements at start-up (issue 14: start-up time and memory).
 * <p>
 * Pods that start together take turns on a transaction-scoped advisory lock, which, unlike a
 * session lock, also holds through PgBouncer in transaction mode; the second finds nothing pending.
 * Every wait here is bounded: by the pool's guardrails (pool wait, connect timeout, TCP_USER_TIMEOUT)
 * and by DB_MIGRATION_TIMEOUT per statement, the lock wait included.
 */
public final class SchemaMigrations {

    /** One key per database: every Bastion pod's migrations take turns on it. */
    static final long LOCK_KEY = 0x42617374696f6eL; // "Bastion"

    static final String HISTORY_TABLE = """
            CREATE TABLE IF NOT EXISTS flyway_schema_history (
                installed_rank INT NOT NULL,
                version VARCHAR(50),
                description VARCHAR(200) NOT NULL,
                type VARCHAR(20) NOT NULL,
                script VARCHAR(1000) NOT NULL,
                checksum INTEGER,
                installed_by VARCHAR(100) NOT NULL,
                installed_on TIMESTAMP NOT NULL DEFAULT now(),
                execution_time INTEGER NOT NULL,
                success BOOLEAN NOT NULL,
                CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank));
            CREATE INDEX IF NOT EXISTS flyway_schema_history_s_idx ON flyway_schema_history (success);
            """;
    // one round trip, simple protocol: the lock (held to COMMIT), then whether the history exists; the
    // key is a constant, so no prepared statement is needed this early in the start
    private static final String LOCK_AND_INSPECT = "SELECT pg_advisory_xact_lock(" + LOCK_KEY + ");"
            + " SELECT to_regclass('flyway_schema_history') IS NOT NULL";
    // SHARE ROW EXCLUSIVE conflicts with itself and with the inserts of a Flyway still running
    // somewhere (an earlier release during a rolling update), which then wait for this transaction
    private static final String LOCK_HISTORY = "LOCK TABLE flyway_schema_history IN SHARE ROW EXCLUSIVE MODE";
    private static final String READ_HISTORY = """
            SELECT installed_rank, version, description, type, checksum, success
              FROM flyway_schema_history ORDER BY installed_rank""";
    private static final String RECORD = """
            INSERT INTO flyway_schema_history
                   (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
            SELECT coalesce(max(installed_rank), 0) + 1, $1, $2, 'SQL', $3, $4, current_user, $5, true
              FROM flyway_schema_history""";

    private SchemaMigrations() {
    }

    /**
     * Applies what is pending; the result names what ran (empty when the schema was up to date).
     * {@code timeout} bounds each statement, the lock wait included, in place of the request path's
     * statement_timeout (DB_COMMAND_TIMEOUT), which a migration may need to exceed.
     */
    public static Uni<MigrationRun> migrate(Pool pool, List<Migration> shipped, Duration timeout) {
        return pool.withTransaction(connection -> Uni.createFrom().voidItem()
                // before any wait: the server reported its version at login
                .invoke(() -> UnsupportedPostgresException.requireSupported(connection.databaseMetadata().majorVersion(),
                        connection.databaseMetadata().fullVersion()))
                .chain(() -> connection.query("SET LOCAL statement_timeout = " + timeout.toMillis()).execute())
                .chain(() -> connection.query(LOCK_AND_INSPECT).execute())
                .map(results -> results.next().iterator().next().getBoolean(0))
                // created only when missing: an up-to-date schema needs no privilege beyond reading the history
                .chain(historyExists -> historyExists
                        ? Uni.createFrom().voidItem()
                        : connection.query(HISTORY_TABLE).execute().replaceWithVoid())
                .chain(() -> plan(connection, shipped))
                .chain(plan -> plan.pending().isEmpty()
                        ? Uni.createFrom().item(plan)
                        // about to write: keep a Flyway of an earlier release out, then read again under that lock
                        : connection.query(LOCK_HISTORY).execute().chain(() -> plan(connection, shipped)))
                .chain(plan -> Multi.createFrom().iterable(plan.pending())
                        .onItem().transformToUniAndConcatenate(migration -> apply(connection, migration))
                        .collect().asList()
                        .map(applied -> new MigrationRun(applied, plan.newerThanThisBuild(),
                                shipped.get(shipped.size() - 1).version()))));
    }

    private static Uni<MigrationPlan> plan(SqlConnection connection, List<Migration> shipped) {
        return connection.query(READ_HISTORY).execute().map(rows -> {
            List<AppliedMigration> history = new ArrayList<>();
            for (Row row : rows) {
                history.add(new AppliedMigration(row.getInteger("installed_rank"), row.getString("version"),
                        row.getString("description"), row.getString("type"), row.getInteger("checksum"),
                        row.getBoolean("success")));
            }
            return MigrationPlan.of(shipped, history);
        });
    }

    /** The file as one simple-protocol query (it may hold several statements), then its history row. */
    private static Uni<Migration> apply(SqlConnection connection, Migration migration) {
        long started = System.nanoTime();
        return connection.query(migration.sql()).execute()
                .onFailure().transform(error -> new IllegalStateException(
                        "migration " + migration.version() + " (" + migration.script() + ") failed: " + error.getMessage(), error))
                .chain(() -> connection.preparedQuery(RECORD).execute(Tuple.of(String.valueOf(migration.version()),
                        migration.description(), migration.script(), migration.checksum(),
                        (int) ((System.nanoTime() - started) / 1_000_000))))
                .replaceWith(migration);
    }

    /** What one run applied, the history rows of a newer release it left alone, and the version the schema is now at. */
    public record MigrationRun(List<Migration> applied, List<AppliedMigration> newerThanThisBuild, int latestShipped) {
    }
}
