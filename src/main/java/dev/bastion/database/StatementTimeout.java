package dev.bastion.database;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * A {@code statement_timeout} for the rest of the transaction on a lent connection (work outside the
 * unit of work: the expired-key clean-up, the schema readiness question): transaction-scoped, so
 * nothing outlives it (also behind PgBouncer in transaction mode), and never looser than the role's
 * or database's own, as the unit of work's deadline is not ({@code UnitOfWork.DEADLINE_IN_TRANSACTION}).
 */
public final class StatementTimeout {

    private static final String AT_MOST = "SELECT set_config('statement_timeout', LEAST($1::bigint, COALESCE(NULLIF("
            + "(EXTRACT(epoch FROM current_setting('statement_timeout')::interval) * 1000)::bigint, 0), $1::bigint))::text, true)";

    private StatementTimeout() {
    }

    /** Bounds the transaction's next statements to {@code millis} (at least 1), or the server's stricter limit. */
    public static Uni<Void> atMost(SqlConnection transaction, long millis) {
        return transaction.preparedQuery(AT_MOST).execute(Tuple.of(Math.max(1, millis))).replaceWithVoid();
    }
}
