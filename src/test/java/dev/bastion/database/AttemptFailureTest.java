package dev.bastion.database;

import static dev.bastion.testing.PgErrors.pg;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.smallrye.mutiny.CompositeException;
import io.vertx.sqlclient.ClosedConnectionException;
import org.junit.jupiter.api.Test;

/**
 * How the failure of one attempt is classified once it is known when it happened: before or after
 * COMMIT was sent, and whether its transaction could still be rolled back on its connection.
 */
class AttemptFailureTest {

    private static final TransactionSpec WRITE = TransactionSpec.write("customer.transfer");
    private static final TransactionSpec KEYED_WRITE = WRITE.asIdempotent();
    private static final TransactionSpec READ = TransactionSpec.read("customer.get");

    /** pg_terminate_backend, as the driver reports it on the terminated session. */
    private static final Throwable TERMINATED = pg("FATAL", "57P01", "terminating connection due to administrator command");
    /** The driver's error for a connection already closed under the work. */
    private static final Throwable CLOSED = ClosedConnectionException.INSTANCE;

    /** Hibernate Reactive's report of a failure whose rollback failed too (Mutiny's onFailure().call(...)). */
    private static Throwable withFailedRollback(Throwable failure) {
        return new CompositeException(failure, ClosedConnectionException.INSTANCE);
    }

    @Test
    void aConnectionLostAfterCommitWasSentIsAnUnknownOutcomeForWorkThatIsNotIdempotent() {
        for (Throwable lost : new Throwable[]{TERMINATED, CLOSED}) {
            AttemptFailure failure = AttemptFailure.of(WRITE, lost, true);
            assertEquals(FailureKind.CONNECTION, failure.classified().kind());
            assertEquals(FailureKind.COMMIT_OUTCOME_UNKNOWN, failure.reported().kind());
            assertFalse(failure.reported().kind().retryable(), "never run again: it may have committed");
            assertFalse(failure.rollbackFailed(), "after COMMIT there is no rollback to report");
        }
        assertEquals("57P01", AttemptFailure.of(WRITE, TERMINATED, true).reported().sqlState(), "the driver's details are kept");
    }

    @Test
    void anIdempotentUnitThatLostItsConnectionDuringCommitIsRetried() {
        AttemptFailure failure = AttemptFailure.of(KEYED_WRITE, TERMINATED, true);
        assertEquals(FailureKind.CONNECTION, failure.reported().kind());
        assertTrue(failure.reported().kind().retryable());
        assertTrue(failure.rollbackFailed(), "its transaction could not be rolled back on the lost connection");
    }

    @Test
    void aConnectionLostBeforeCommitIsARetryableOutageWhoseRollbackCouldNotRun() {
        AttemptFailure failure = AttemptFailure.of(WRITE, TERMINATED, false);
        assertEquals(FailureKind.CONNECTION, failure.reported().kind());
        assertTrue(failure.rollbackFailed());
        assertEquals(failure.classified(), failure.reported());
    }

    @Test
    void aSingleStatementWriteLostBeforeItsAnswerHasAnUnknownOutcomeAndNoRollbackToFail() {
        // runStatement: the autocommit statement is its own commit, so the gate counts it as committing once sent
        AttemptFailure sent = AttemptFailure.of(WRITE, false, TERMINATED, true);
        assertEquals(FailureKind.COMMIT_OUTCOME_UNKNOWN, sent.reported().kind());
        assertFalse(sent.rollbackFailed());
        AttemptFailure refused = AttemptFailure.of(WRITE, false, pg("23505", "customer_email_lower_key", "customer", "email"), true);
        assertEquals(FailureKind.UNIQUE_VIOLATION, refused.reported().kind(), "a refused statement committed nothing");
        assertFalse(refused.rollbackFailed());
    }

    @Test
    void aSingleStatementReadHasNoRollbackToFailButASessionReadHas() {
        AttemptFailure failure = AttemptFailure.of(READ, false, TERMINATED, false);
        assertEquals(FailureKind.CONNECTION, failure.reported().kind());
        assertFalse(failure.rollbackFailed());
        assertTrue(AttemptFailure.of(READ, TERMINATED, false).rollbackFailed(),
                "a session's read runs in a transaction block: its statement_timeout carries the deadline");

        AttemptFailure serializable = AttemptFailure.of(READ.withIsolation(Isolation.SERIALIZABLE), TERMINATED, false);
        assertTrue(serializable.rollbackFailed(), "a SERIALIZABLE read runs in a transaction block");
        AttemptFailure withSavepoints = AttemptFailure.of(READ.withSavepoints(), TERMINATED, false);
        assertTrue(withSavepoints.rollbackFailed(), "a unit with savepoints runs in a transaction block");
    }

    @Test
    void aFailureThatIsNotRetriedAndCouldNotBeRolledBackIsReportedAsRollbackFailed() {
        AttemptFailure failure = AttemptFailure.of(WRITE, withFailedRollback(pg("23505", "customer_email_lower_key", "customer", null)), false);
        assertEquals(FailureKind.UNIQUE_VIOLATION, failure.classified().kind(), "the event names what went wrong first");
        assertEquals(FailureKind.ROLLBACK_FAILED, failure.reported().kind());
        assertEquals("customer_email_lower_key", failure.reported().constraint());
        assertTrue(failure.rollbackFailed());
        assertEquals(503, failure.reported().kind().httpStatus());
    }

    @Test
    void aRetryableFailureWhoseRollbackFailedIsStillRetried() {
        AttemptFailure failure = AttemptFailure.of(WRITE, withFailedRollback(pg("40P01", null, null, null)), false);
        assertEquals(FailureKind.DEADLOCK, failure.reported().kind());
        assertTrue(failure.rollbackFailed());
    }

    @Test
    void anUnknownCommitOutcomeTakesPrecedenceOverAFailedRollback() {
        AttemptFailure failure = AttemptFailure.of(WRITE, withFailedRollback(TERMINATED), true);
        assertEquals(FailureKind.COMMIT_OUTCOME_UNKNOWN, failure.reported().kind());
        assertFalse(failure.rollbackFailed());
    }

    @Test
    void aReadOnlyNodeAtCommitRefusedTheWriteSoItIsRetriedNotUnknown() {
        AttemptFailure readOnly = AttemptFailure.of(WRITE,
                pg("ERROR", "25006", "cannot execute COMMIT in a read-only transaction"), true);
        assertEquals(FailureKind.READ_ONLY_NODE, readOnly.reported().kind());
        assertTrue(readOnly.reported().kind().retryable());
        assertFalse(readOnly.rollbackFailed());

        AttemptFailure conflict = AttemptFailure.of(WRITE,
                pg("ERROR", "40001", "canceling statement due to conflict with recovery"), true);
        assertEquals(FailureKind.READ_ONLY_NODE, conflict.reported().kind(), "a standby, not contention");
        assertFalse(conflict.reported().kind().isContention());
        assertTrue(conflict.reported().kind().discardsConnection(), "the connection is closed, not reused");
    }

    @Test
    void failuresWithACleanRollbackKeepTheirClassification() {
        AttemptFailure unique = AttemptFailure.of(WRITE, pg("23505", "customer_email_lower_key", "customer", "email"), true);
        assertEquals(unique.classified(), unique.reported());
        assertEquals(FailureKind.UNIQUE_VIOLATION, unique.reported().kind());
        assertFalse(unique.rollbackFailed());

        AttemptFailure serialization = AttemptFailure.of(WRITE, pg("40001", null, null, null), false);
        assertEquals(FailureKind.SERIALIZATION_FAILURE, serialization.reported().kind());
        assertFalse(serialization.rollbackFailed());

        // a second failure that is not the database's (the work's own error) is no failed rollback
        AttemptFailure notDatabase = AttemptFailure.of(WRITE,
                new CompositeException(pg("23514", null, null, null), new IllegalStateException("mapping")), false);
        assertEquals(FailureKind.CHECK_VIOLATION, notDatabase.reported().kind());
        assertFalse(notDatabase.rollbackFailed());
    }

    @Test
    void aFailureTheGateAlreadyClassifiedIsKept() {
        // the request deadline passed before COMMIT: the unit of work already said what that means
        DatabaseException decided = new DatabaseException(DatabaseFailure.of(FailureKind.DEADLINE_EXCEEDED), "customer.create", null);
        AttemptFailure failure = AttemptFailure.of(WRITE, decided, false);
        assertEquals(FailureKind.DEADLINE_EXCEEDED, failure.reported().kind());
        assertFalse(failure.rollbackFailed());
    }
}
