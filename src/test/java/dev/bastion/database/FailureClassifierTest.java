package dev.bastion.database;

import static dev.bastion.testing.PgErrors.pg;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.sql.SQLException;
import java.util.concurrent.CompletionException;

import io.vertx.core.VertxException;
import io.vertx.core.http.ConnectionPoolTooBusyException;
import io.vertx.core.impl.NoStackTraceThrowable;
import io.vertx.pgclient.PgException;
import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;
import org.hibernate.StaleObjectStateException;
import org.hibernate.exception.ConstraintViolationException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Every SQLSTATE the failure model knows, and the codeless failures of the pool and connection layers. */
class FailureClassifierTest {

    @ParameterizedTest(name = "SQLSTATE {0} -> {1}")
    @CsvSource({
            "23505, UNIQUE_VIOLATION",
            "23503, FOREIGN_KEY_VIOLATION",
            "23502, NOT_NULL_VIOLATION",
            "23514, CHECK_VIOLATION",
            "23P01, EXCLUSION_VIOLATION",
            "23000, CHECK_VIOLATION",
            "40P01, DEADLOCK",
            "40001, SERIALIZATION_FAILURE",
            "40000, SERIALIZATION_FAILURE",
            "40003, COMMIT_OUTCOME_UNKNOWN",
            "55P03, LOCK_NOT_AVAILABLE",
            "57014, STATEMENT_TIMEOUT",
            "25P03, TRANSACTION_TIMEOUT",
            "57P01, CONNECTION",
            "57P02, CONNECTION",
            "57P03, CONNECTION",
            "57P05, CONNECTION",
            "53300, CONNECTION_LIMIT",
            "25006, READ_ONLY_NODE",
            "08000, CONNECTION",
            "08003, CONNECTION",
            "08006, CONNECTION",
            "08001, CONNECTION",
            "08004, CONNECTION",
            "22001, INVALID_DATA",
            "22003, INVALID_DATA",
            "22P02, INVALID_DATA",
            "42P01, OTHER",
            "42601, OTHER",
            "XX000, OTHER",
            "53100, DATABASE_RESOURCES",
    })
    void classifiesSqlStatesFromTheVertxDriver(String sqlState, FailureKind expected) {
        DatabaseFailure failure = FailureClassifier.classify(pg(sqlState, "some_constraint", "customer", "email"));
        assertEquals(expected, failure.kind());
        assertEquals(sqlState, failure.sqlState());
        assertEquals("some_constraint", failure.constraint());
        assertEquals("customer", failure.table());
        assertEquals("email", failure.column());
    }

    @Test
    void aHotStandbyConflictIsAReadOnlyNodeNotAContentionRetry() {
        var cancelled = new PgException("canceling statement due to conflict with recovery", "ERROR", "40001",
                "User query might have needed to see row versions that must be removed.");
        assertEquals(FailureKind.READ_ONLY_NODE, FailureClassifier.classify(cancelled).kind());
        var terminated = new SQLException("FATAL: terminating connection due to conflict with recovery", "40001");
        assertEquals(FailureKind.READ_ONLY_NODE, FailureClassifier.classify(new CompletionException(terminated)).kind());
        assertEquals(FailureKind.SERIALIZATION_FAILURE,
                FailureClassifier.classify(new PgException("could not serialize access due to concurrent update",
                        "ERROR", "40001", null)).kind());
    }

    @Test
    void classifiesHibernateReactiveWrappedSqlExceptionsWithTheConstraintName() {
        var sql = new SQLException("duplicate key", "23505");
        var hibernate = new ConstraintViolationException("could not execute statement", sql, "customer_email_lower_key");
        DatabaseFailure failure = FailureClassifier.classify(new CompletionException(hibernate));
        assertEquals(FailureKind.UNIQUE_VIOLATION, failure.kind());
        assertEquals("customer_email_lower_key", failure.constraint());
        assertEquals("23505", failure.sqlState());
    }

    @Test
    void theDriversSqlStateWinsOverOuterWrappers() {
        var deadlock = new VertxException("wrapped", pg("40P01", null, null, null));
        assertEquals(FailureKind.DEADLOCK, FailureClassifier.classify(deadlock).kind());
    }

    @Test
    void classifiesPoolExhaustion() {
        assertEquals(FailureKind.POOL_EXHAUSTED, FailureClassifier.classify(
                new ConnectionPoolTooBusyException("Connection pool reached max wait queue size of 2")).kind());
        assertEquals(FailureKind.POOL_EXHAUSTED, FailureClassifier.classify(new NoStackTraceThrowable("Timeout")).kind());
        assertEquals(FailureKind.POOL_EXHAUSTED,
                FailureClassifier.classify(new VertxException("Timeout waiting for connection", true)).kind());
    }

    @Test
    void classifiesLostConnectionsOptimisticLocksAndOpenBreakers() {
        assertEquals(FailureKind.CONNECTION, FailureClassifier.classify(new ConnectException("Connection refused")).kind());
        assertEquals(FailureKind.CONNECTION,
                FailureClassifier.classify(new VertxException("Connection is not active now", true)).kind());
        assertEquals(FailureKind.OPTIMISTIC_LOCK,
                FailureClassifier.classify(new StaleObjectStateException("Customer", 1L)).kind());
        assertEquals(FailureKind.CIRCUIT_OPEN, FailureClassifier.classify(new CircuitBreakerOpenException()).kind());
    }

    @Test
    void unknownErrorsAreOtherAndDomainErrorsAreNotDatabaseFailures() {
        DatabaseFailure failure = FailureClassifier.classify(new IllegalStateException("boom"));
        assertEquals(FailureKind.OTHER, failure.kind());
        assertNull(failure.sqlState());
        assertFalse(FailureClassifier.isDatabaseFailure(new IllegalArgumentException("bad input")));
        assertTrue(FailureClassifier.isDatabaseFailure(new RuntimeException(pg("23505", null, null, null))));
    }

    @Test
    void onlyTransientKindsAreRetryableAndConstraintViolationsNeverAre() {
        for (FailureKind kind : FailureKind.values()) {
            if (kind.isConstraintViolation()) {
                assertFalse(kind.retryable(), kind + " must not be retried");
            }
        }
        assertTrue(FailureKind.DEADLOCK.retryable());
        assertTrue(FailureKind.SERIALIZATION_FAILURE.retryable());
        assertTrue(FailureKind.CONNECTION.retryable());
        assertFalse(FailureKind.COMMIT_OUTCOME_UNKNOWN.retryable());
        assertFalse(FailureKind.POOL_EXHAUSTED.retryable());
    }

    /**
     * Every class of PostgreSQL's errcodes appendix (Appendix A), with a code of each, decided
     * deliberately: what the server cannot do now is a 503 (retried where a fresh attempt can help),
     * bad input a 4xx, and only programming or deployment errors are 500 (OTHER).
     */
    @ParameterizedTest(name = "SQLSTATE {0} -> {1} ({2})")
    @CsvSource({
            "03000, OTHER,                 sql_statement_not_yet_complete",
            "08006, CONNECTION,            connection_failure",
            "08P01, CONNECTION,            protocol_violation",
            "09000, OTHER,                 triggered_action_exception",
            "0A000, OTHER,                 feature_not_supported",
            "0B000, OTHER,                 invalid_transaction_initiation",
            "0F000, OTHER,                 locator_exception",
            "0L000, OTHER,                 invalid_grantor",
            "0P000, OTHER,                 invalid_role_specification",
            "0Z000, OTHER,                 diagnostics_exception",
            "20000, OTHER,                 case_not_found",
            "21000, OTHER,                 cardinality_violation",
            "22001, INVALID_DATA,          string_data_right_truncation",
            "22003, INVALID_DATA,          numeric_value_out_of_range",
            "22P02, INVALID_DATA,          invalid_text_representation",
            "2200H, DATABASE_RESOURCES,    sequence_generator_limit_exceeded",
            "23505, UNIQUE_VIOLATION,      unique_violation",
            "23503, FOREIGN_KEY_VIOLATION, foreign_key_violation",
            "24000, OTHER,                 invalid_cursor_state",
            "25001, OTHER,                 active_sql_transaction",
            "25006, READ_ONLY_NODE,        read_only_sql_transaction",
            "25P02, OTHER,                 in_failed_sql_transaction",
            "25P03, TRANSACTION_TIMEOUT,   idle_in_transaction_session_timeout",
            "25P04, TRANSACTION_TIMEOUT,   transaction_timeout",
            "26000, OTHER,                 invalid_sql_statement_name",
            "27000, OTHER,                 triggered_data_change_violation",
            "28000, DATABASE_AUTH_FAILED,  invalid_authorization_specification",
            "28P01, DATABASE_AUTH_FAILED,  invalid_password",
            "2B000, OTHER,                 dependent_privilege_descriptors_still_exist",
            "2D000, OTHER,                 invalid_transaction_termination",
            "2F000, OTHER,                 sql_routine_exception",
            "34000, OTHER,                 invalid_cursor_name",
            "38000, OTHER,                 external_routine_exception",
            "39000, OTHER,                 external_routine_invocation_exception",
            "3B000, OTHER,                 savepoint_exception",
            "3D000, CONNECTION,            invalid_catalog_name",
            "3F000, OTHER,                 invalid_schema_name",
            "40001, SERIALIZATION_FAILURE, serialization_failure",
            "40P01, DEADLOCK,              deadlock_detected",
            "40003, COMMIT_OUTCOME_UNKNOWN, statement_completion_unknown",
            "42501, PERMISSION_DENIED,     insufficient_privilege",
            "42P01, OTHER,                 undefined_table",
            "44000, CHECK_VIOLATION,       with_check_option_violation",
            "53000, DATABASE_RESOURCES,    insufficient_resources",
            "53100, DATABASE_RESOURCES,    disk_full",
            "53200, DATABASE_RESOURCES,    out_of_memory",
            "53300, CONNECTION_LIMIT,      too_many_connections",
            "53400, DATABASE_RESOURCES,    configuration_limit_exceeded",
            "54000, OTHER,                 program_limit_exceeded",
            "54001, OTHER,                 statement_too_complex",
            "55000, OTHER,                 object_not_in_prerequisite_state",
            "55P03, LOCK_NOT_AVAILABLE,    lock_not_available",
            "57000, DATABASE_RESOURCES,    operator_intervention",
            "57014, STATEMENT_TIMEOUT,     query_canceled",
            "57P01, CONNECTION,            admin_shutdown",
            "57P02, CONNECTION,            crash_shutdown",
            "57P03, CONNECTION,            cannot_connect_now",
            "57P04, CONNECTION,            database_dropped",
            "57P05, CONNECTION,            idle_session_timeout",
            "58000, DATABASE_RESOURCES,    system_error",
            "58030, DATABASE_RESOURCES,    io_error",
            "72000, SERIALIZATION_FAILURE, snapshot_too_old",
            "F0000, OTHER,                 config_file_error",
            "HV000, OTHER,                 fdw_error",
            "P0001, OTHER,                 raise_exception",
            "XX000, OTHER,                 internal_error",
            "XX001, OTHER,                 data_corrupted",
    })
    void everyErrorClassHasADeliberateAnswer(String sqlState, FailureKind expected, String name) {
        FailureKind kind = SqlStates.kindOf(sqlState);
        assertEquals(expected, kind, name);
        if (kind.httpStatus() == 500) {
            assertTrue(kind == FailureKind.OTHER || kind == FailureKind.COMMIT_OUTCOME_UNKNOWN,
                    "only programming errors and unknown commit outcomes are 500: " + name);
        }
    }

    @ParameterizedTest(name = "SQLSTATE {0} (no exact entry) -> {1} by its class")
    @CsvSource({
            "08P01, CONNECTION",
            "22012, INVALID_DATA",
            "23001, CHECK_VIOLATION",
            "40002, SERIALIZATION_FAILURE",
            "25001, OTHER",
            "57P04, CONNECTION",
    })
    void codesWithoutAnExactEntryFallBackToTheirClass(String sqlState, FailureKind expected) {
        assertEquals(expected, SqlStates.kindOf(sqlState));
        assertEquals(expected, FailureClassifier.classify(pg(sqlState, null, null, null)).kind());
    }

    @Test
    void missingOrMalformedSqlStatesAreOther() {
        assertEquals(FailureKind.OTHER, SqlStates.kindOf(null));
        assertEquals(FailureKind.OTHER, SqlStates.kindOf(""));
        assertEquals(FailureKind.OTHER, SqlStates.kindOf("4000"));
        assertEquals(FailureKind.OTHER, SqlStates.kindOf("40P011"));
        assertEquals(FailureKind.OTHER, FailureClassifier.classify(new SQLException("no code")).kind());
    }

    @Test
    void onlyASerializationFailureThatNamesARecoveryConflictMeansAStandby() {
        assertEquals(FailureKind.SERIALIZATION_FAILURE, SqlStates.kindOf("40001", null));
        assertEquals(FailureKind.SERIALIZATION_FAILURE,
                SqlStates.kindOf("40001", "could not serialize access due to read/write dependencies among transactions"));
        assertEquals(FailureKind.READ_ONLY_NODE, SqlStates.kindOf("40001", "canceling statement due to conflict with recovery"));
        assertEquals(FailureKind.READ_ONLY_NODE, SqlStates.kindOf("25006", "cannot execute INSERT in a read-only transaction"));
        assertEquals(FailureKind.READ_ONLY_NODE, FailureClassifier.classify(
                pg("FATAL", "40001", "terminating connection due to conflict with recovery")).kind());
    }

    @Test
    void aCancelRequestIsNotAStatementTimeout() {
        assertEquals(FailureKind.STATEMENT_TIMEOUT, SqlStates.kindOf("57014", "canceling statement due to statement timeout"));
        assertEquals(FailureKind.STATEMENT_CANCELLED, SqlStates.kindOf("57014", "canceling statement due to user request"));
        assertEquals(FailureKind.STATEMENT_CANCELLED, FailureClassifier.classify(
                pg("ERROR", "57014", "canceling statement due to user request")).kind());
        assertEquals(FailureKind.STATEMENT_TIMEOUT, SqlStates.kindOf("57014", null), "no message: the timeout's answer");
    }

    @Test
    void pgBouncersRefusalOfOneMoreClientIsAConnectionCapNotALostConnection() {
        // what PgBouncer sends at login (FATAL 08P01) when max_client_conn or a per-database / per-user client limit is reached
        assertEquals(FailureKind.CONNECTION_LIMIT, FailureClassifier.classify(
                pg("FATAL", "08P01", "no more connections allowed (max_client_conn)")).kind());
        assertEquals(FailureKind.CONNECTION_LIMIT, SqlStates.kindOf("08P01", "client connections exceeded (max_db_client_connections)"));
        assertEquals(FailureKind.CONNECTION_LIMIT, SqlStates.kindOf("08P01", "client connections exceeded (max_user_client_connections)"));
        // its other protocol errors stay lost connections: the server behind it is gone, a query waited too long
        assertEquals(FailureKind.CONNECTION, SqlStates.kindOf("08P01", "server login has been failing, try again later (server_login_retry)"));
        assertEquals(FailureKind.CONNECTION, SqlStates.kindOf("08P01", "query_wait_timeout"));
        assertEquals(FailureKind.CONNECTION, SqlStates.kindOf("08P01", null));
    }

    @Test
    void aDatabaseNearWraparoundOrASequenceAtItsMaximumIsTheDatabasesStateAndNotRetried() {
        DatabaseFailure wraparound = FailureClassifier.classify(pg("ERROR", "54000", "database is not accepting commands "
                + "that assign new transaction IDs to avoid wraparound data loss in database \"bastion\""));
        assertEquals(FailureKind.DATABASE_RESOURCES, wraparound.kind());
        assertFalse(wraparound.retryable(), "every retry meets the same refusal until a VACUUM");
        // the rest of 54000 comes from the data sent (an index row too big): a programming error
        assertEquals(FailureKind.OTHER, SqlStates.kindOf("54000", "index row size 3000 exceeds btree version 4 maximum 2704"));
        DatabaseFailure sequence = FailureClassifier.classify(pg("ERROR", "2200H",
                "nextval: reached maximum value of sequence \"customer_id_seq\" (5)"));
        assertEquals(FailureKind.DATABASE_RESOURCES, sequence.kind());
        assertFalse(sequence.retryable());
        assertTrue(FailureClassifier.classify(pg("ERROR", "53100", "could not extend file")).retryable(),
                "a full disk may have room a moment later");
    }

    /** The policy table, kind by kind: a change to any entry must be deliberate. */
    @ParameterizedTest(name = "{0}: retryable={1}, HTTP {2}, outage={3}, contention={4}, constraint={5}, breaker={6}")
    @CsvSource({
            "UNIQUE_VIOLATION,       false, 409, false, false, true, false",
            "FOREIGN_KEY_VIOLATION,  false, 409, false, false, true, false",
            "NOT_NULL_VIOLATION,     false, 422, false, false, true, false",
            "CHECK_VIOLATION,        false, 422, false, false, true, false",
            "EXCLUSION_VIOLATION,    false, 409, false, false, true, false",
            "INVALID_DATA,           false, 422, false, false, false, false",
            "OPTIMISTIC_LOCK,        false, 409, false, false, false, false",
            "DEADLOCK,               true,  503, false, true,  false, false",
            "SERIALIZATION_FAILURE,  true,  503, false, true,  false, false",
            "LOCK_NOT_AVAILABLE,     true,  503, false, false, false, false",
            "STATEMENT_TIMEOUT,      false, 504, false, false, false, false",
            "STATEMENT_CANCELLED,    true,  503, false, false, false, false",
            "TRANSACTION_TIMEOUT,    false, 504, false, false, false, false",
            "CONNECTION,             true,  503, true,  false, false, true",
            "CONNECTION_LIMIT,       true,  503, false, false, false, false",
            "DATABASE_AUTH_FAILED,   false, 503, true,  false, false, true",
            "PERMISSION_DENIED,      false, 503, false, false, false, false",
            "DATABASE_RESOURCES,     true,  503, false, false, false, false",
            "READ_ONLY_NODE,         true,  503, false, false, false, false",
            "DEADLINE_EXCEEDED,      false, 503, false, false, false, false",
            "POOL_EXHAUSTED,         false, 503, false, false, false, false",
            "CIRCUIT_OPEN,           false, 503, false, false, false, false",
            "COMMIT_OUTCOME_UNKNOWN, false, 500, false, false, false, true",
            "ROLLBACK_FAILED,        false, 503, false, false, false, false",
            "OTHER,                  false, 500, false, false, false, false",
    })
    void eachKindHasItsPolicy(FailureKind kind, boolean retryable, int status, boolean outage, boolean contention,
                              boolean constraint, boolean countsTowardBreaker) {
        assertEquals(retryable, kind.retryable(), "retryable");
        assertEquals(status, kind.httpStatus(), "HTTP status");
        assertEquals(outage, kind.isOutage(), "outage");
        assertEquals(contention, kind.isContention(), "contention");
        assertEquals(constraint, kind.isConstraintViolation(), "constraint violation");
        assertEquals(countsTowardBreaker, kind.countsTowardBreaker(), "counts toward the breaker");
    }

    @Test
    void everyKindIsInThePolicyTableAndTellsTheCallerWhatToDo() {
        assertEquals(25, FailureKind.values().length, "a new kind needs its row in eachKindHasItsPolicy");
        java.util.Set<String> slugs = new java.util.HashSet<>();
        for (FailureKind kind : FailureKind.values()) {
            assertTrue(slugs.add(kind.problemSlug()), "unique problem slug: " + kind.problemSlug());
            assertTrue(kind.problemSlug().matches("[a-z]+(-[a-z]+)*"), kind.problemSlug());
            assertFalse(kind.title().isBlank(), kind + " title");
            assertFalse(kind.advice().isBlank(), kind + " advice");
        }
    }
}
