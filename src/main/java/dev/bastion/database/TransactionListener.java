package dev.bastion.database;

import io.smallrye.faulttolerance.api.CircuitBreakerState;

/**
 * What the unit of work reports as it goes, for the monitors (like HikariCP's metrics tracker):
 * the gate calls this interface and never imports its observers. Every method has a no-op default,
 * so an observer overrides only what it watches. Called on the request path: implementations must
 * not block and must not fail.
 */
public interface TransactionListener {

    /** An attempt opened its session; {@code attemptId} names it until {@link #attemptEnded}. */
    default void attemptStarted(long attemptId, String operation, int attempt) {
    }

    /** The attempt's session is closed (committed, rolled back or lost). */
    default void attemptEnded(long attemptId) {
    }

    /** An attempt failed; {@code willRetry} says whether the unit runs again. */
    default void attemptFailed(String operation, DatabaseFailure failure, int attempt, boolean willRetry) {
    }

    default void unitSucceeded(String operation, int attempts, long nanos) {
    }

    default void unitFailed(String operation, DatabaseFailure failure, int attempts, long nanos) {
    }

    /** A transaction could not be rolled back on its connection (lost mid-transaction, or ROLLBACK failed). */
    default void rollbackFailed(String operation, DatabaseFailure failure) {
    }

    /** A nested step was refused by the database and rolled back to its savepoint. */
    default void savepointRolledBack(String operation, DatabaseFailure failure) {
    }

    /** The breaker moved from {@code previous} to {@code state} (its one owner, {@link TransactionListeners}, tells both). */
    default void breakerStateChanged(CircuitBreakerState previous, CircuitBreakerState state) {
    }
}
