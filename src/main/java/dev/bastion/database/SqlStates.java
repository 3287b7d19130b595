package dev.bastion.database;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * PostgreSQL SQLSTATE codes (Appendix A of the PostgreSQL manual) to failure kinds: exact codes
 * first, then the two-character class.
 */
final class SqlStates {

    private static final Map<String, FailureKind> EXACT = Map.ofEntries(
            Map.entry("23505", FailureKind.UNIQUE_VIOLATION),
            Map.entry("23503", FailureKind.FOREIGN_KEY_VIOLATION),
            Map.entry("23502", FailureKind.NOT_NULL_VIOLATION),
            Map.entry("23514", FailureKind.CHECK_VIOLATION),
            Map.entry("23P01", FailureKind.EXCLUSION_VIOLATION),
            Map.entry("40P01", FailureKind.DEADLOCK),
            Map.entry("40001", FailureKind.SERIALIZATION_FAILURE),
            Map.entry("40003", FailureKind.COMMIT_OUTCOME_UNKNOWN), // statement_completion_unknown
            Map.entry("55P03", FailureKind.LOCK_NOT_AVAILABLE),
            Map.entry("57014", FailureKind.STATEMENT_TIMEOUT),       // query_canceled (statement_timeout)
            Map.entry("25P03", FailureKind.TRANSACTION_TIMEOUT),     // idle_in_transaction_session_timeout
            Map.entry("57P01", FailureKind.CONNECTION),              // admin_shutdown (also pg_terminate_backend)
            Map.entry("57P02", FailureKind.CONNECTION),              // crash_shutdown
            Map.entry("57P03", FailureKind.CONNECTION),              // cannot_connect_now (starting up)
            Map.entry("57P05", FailureKind.CONNECTION),              // idle_session_timeout
            Map.entry("57P04", FailureKind.CONNECTION),              // database_dropped
            Map.entry("3D000", FailureKind.CONNECTION),              // invalid_catalog_name (the database is gone)
            Map.entry("53300", FailureKind.CONNECTION_LIMIT),        // too_many_connections, reserved slots
            Map.entry("25006", FailureKind.READ_ONLY_NODE),          // read_only_sql_transaction (standby, read-only)
            Map.entry("25P04", FailureKind.TRANSACTION_TIMEOUT),     // transaction_timeout (PostgreSQL 17)
            Map.entry("72000", FailureKind.SERIALIZATION_FAILURE),   // snapshot_too_old: a fresh snapshot works
            Map.entry("42501", FailureKind.PERMISSION_DENIED),       // insufficient_privilege (a REVOKE)
            // a sequence at its MAXVALUE: no new row gets an id until an operator raises it, whatever the caller sends
            Map.entry("2200H", FailureKind.DATABASE_RESOURCES),      // sequence_generator_limit_exceeded
            Map.entry("57000", FailureKind.DATABASE_RESOURCES));     // operator_intervention

    /**
     * Every other class of PostgreSQL's errcodes appendix decided once. Classes not listed (42 syntax
     * or access rule other than a revoked privilege, 0A feature not supported, 26 / 34 / 3B / 3F invalid names, 25 other transaction
     * states, 54 program limits other than wraparound, 55 object states, 2x/3x/P0/XX and the rest) are programming or
     * deployment errors: OTHER, the only 500 besides an unknown commit outcome.
     */
    private static final Map<String, FailureKind> BY_CLASS = Map.of(
            "08", FailureKind.CONNECTION,           // connection exception
            "28", FailureKind.DATABASE_AUTH_FAILED, // invalid authorization specification (28000, 28P01)
            "22", FailureKind.INVALID_DATA,         // data exception (too long, out of range, bad format)
            "23", FailureKind.CHECK_VIOLATION,      // other integrity constraint violations
            "44", FailureKind.CHECK_VIOLATION,      // with check option violation
            "40", FailureKind.SERIALIZATION_FAILURE, // transaction rollback
            "53", FailureKind.DATABASE_RESOURCES,   // insufficient resources (53100 disk, 53200 memory, 53400 limits)
            "58", FailureKind.DATABASE_RESOURCES,   // system error (I/O, undefined file)
            "57", FailureKind.CONNECTION);          // operator intervention: shutdown, crash, recovery

    /** PgBouncer's refusals of one more client (max_client_conn, max_db_client_connections, max_user_client_connections). */
    private static final List<String> PGBOUNCER_CLIENT_CAPS = List.of("no more connections allowed",
            "client connections exceeded");

    /**
     * Refusals a retry meets again, whatever the timing: a sequence at its maximum does not advance, a
     * database near wraparound refuses every new transaction ID until it is vacuumed.
     */
    private static final Set<String> UNCHANGED_BY_A_RETRY = Set.of("2200H", "54000");

    private SqlStates() {
    }

    /**
     * As {@link #kindOf(String)}, except that a hot standby's query cancelled "due to conflict with
     * recovery" (reported as 40001) means the session is on a standby, not that it lost a race with
     * another transaction: an outage of the writer, whose connection must not be reused; that a
     * {@code query_canceled} (57014) by a cancel request is not a statement_timeout; that PgBouncer's
     * refusal of one more client (08P01) is a connection cap, not a lost connection; and that a 54000
     * naming wraparound is the database's state, not the request's.
     */
    static FailureKind kindOf(String sqlState, String message) {
        if ("40001".equals(sqlState) && message != null && message.contains("conflict with recovery")) {
            return FailureKind.READ_ONLY_NODE;
        }
        if ("08P01".equals(sqlState) && message != null && PGBOUNCER_CLIENT_CAPS.stream().anyMatch(message::contains)) {
            // PgBouncer's own client limits, sent as a FATAL protocol error at login: a cap on new connections (its
            // messages are never translated), the ones the service holds through it still work
            return FailureKind.CONNECTION_LIMIT;
        }
        if ("54000".equals(sqlState) && message != null && message.contains("wraparound")) {
            // a server near transaction ID wraparound refuses every write until it is vacuumed; reads go on. The rest
            // of program_limit_exceeded (an index row or a row too big) comes from the data sent: OTHER
            return FailureKind.DATABASE_RESOURCES;
        }
        if ("57014".equals(sqlState) && message != null && message.contains("due to user request")) {
            // a cancel request, not a statement_timeout ("due to statement timeout"); the unit of work tells its
            // own deadline's cancel apart. A server whose lc_messages is not English keeps the timeout's answer
            return FailureKind.STATEMENT_CANCELLED;
        }
        return kindOf(sqlState);
    }

    /** Whether running the transaction again could end otherwise: false for {@link #UNCHANGED_BY_A_RETRY}. */
    static boolean retryCanHelp(String sqlState) {
        return sqlState == null || !UNCHANGED_BY_A_RETRY.contains(sqlState);
    }

    static FailureKind kindOf(String sqlState) {
        if (sqlState == null || sqlState.length() != 5) {
            return FailureKind.OTHER;
        }
        FailureKind exact = EXACT.get(sqlState);
        if (exact != null) {
            return exact;
        }
        return BY_CLASS.getOrDefault(sqlState.substring(0, 2), FailureKind.OTHER);
    }
}
