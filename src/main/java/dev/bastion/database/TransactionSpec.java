package dev.bastion.database;

import java.util.List;
import java.util.TreeSet;

/**
 * How a unit of work runs.
 *
 * @param operation  a short, low-cardinality name ("customer.create") for logs, metrics and monitors
 * @param isolation  the isolation level of each attempt
 * @param idempotent whether running the work twice is harmless: only then is a commit whose outcome
 *                   is unknown (connection lost during COMMIT) retried
 * @param savepoints whether the work uses {@link Savepoints} for nested steps
 * @param readOnly   the work only reads: as single statements ({@code UnitOfWork.runStatement}) it runs
 *                   without BEGIN/COMMIT, bounded by a cancel request at the deadline; on a session it
 *                   runs in a transaction, whose statement_timeout carries the deadline, and its COMMIT
 *                   saves nothing
 * @param rows       the existing rows the work writes or locks ("customer:42"), sorted: at most
 *                   DB_MAX_CONNECTIONS_PER_ROW attempts per row hold a connection at once ({@link RowConcurrency})
 * @param readAfter  for a read that may go to a standby: a WAL position (pg_lsn text) the caller's own
 *                   earlier write reached ({@link WrittenPosition}); a standby that has not replayed it
 *                   leaves the read to the writer. Null: any standby within DB_MAX_STANDBY_LAG will do.
 * @param standby    a read by id that may go to a standby (DB_READ_TARGET=prefer-standby): one that finds
 *                   nothing there asks the writer before answering "not found". Other reads (pages,
 *                   lookups) stay on the writer: they have no such check.
 */
public record TransactionSpec(String operation, Isolation isolation, boolean idempotent, boolean savepoints,
                              boolean readOnly, List<String> rows, String readAfter, boolean standby) {

    public TransactionSpec {
        rows = rows.size() < 2 ? List.copyOf(rows) : List.copyOf(new TreeSet<>(rows));
    }

    /** A read: READ COMMITTED, safe to repeat. */
    public static TransactionSpec read(String operation) {
        return new TransactionSpec(operation, Isolation.READ_COMMITTED, true, false, true, List.of(), null, false);
    }

    /** A write: READ COMMITTED, not safe to repeat once it may have committed. */
    public static TransactionSpec write(String operation) {
        return new TransactionSpec(operation, Isolation.READ_COMMITTED, false, false, false, List.of(), null, false);
    }

    public TransactionSpec withIsolation(Isolation level) {
        return new TransactionSpec(operation, level, idempotent, savepoints, readOnly, rows, readAfter, standby);
    }

    /** The work is protected against double execution (e.g. by an idempotency key). */
    public TransactionSpec asIdempotent() {
        return new TransactionSpec(operation, isolation, true, savepoints, readOnly, rows, readAfter, standby);
    }

    /** The work runs nested steps in savepoints (see {@link Savepoints}). */
    public TransactionSpec withSavepoints() {
        return new TransactionSpec(operation, isolation, idempotent, true, readOnly, rows, readAfter, standby);
    }

    /** The work writes or locks these existing rows (keys such as "customer:42"); see {@link RowConcurrency}. */
    public TransactionSpec onRows(String... keys) {
        return new TransactionSpec(operation, isolation, idempotent, savepoints, readOnly, List.of(keys), readAfter, standby);
    }

    /**
     * A read that must see what the caller wrote up to {@code position} (a {@link WrittenPosition}
     * the caller carried back; null or blank: no such need).
     */
    public TransactionSpec readingAfter(String position) {
        return new TransactionSpec(operation, isolation, idempotent, savepoints, readOnly, rows,
                position == null || position.isBlank() ? null : position, standby);
    }

    /** A read by id that may go to a standby; see {@code standby}. */
    public TransactionSpec onStandby() {
        return new TransactionSpec(operation, isolation, idempotent, savepoints, readOnly, rows, readAfter, readOnly);
    }

}
