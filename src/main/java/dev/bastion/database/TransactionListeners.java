package dev.bastion.database;

import java.util.List;

import io.smallrye.faulttolerance.api.CircuitBreakerState;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Singleton;

/**
 * Every {@link TransactionListener} bean, collected once at start-up, and the breaker state
 * readiness reads. The gate reports here; nothing in this package knows who listens.
 */
@Singleton
public class TransactionListeners {

    private final List<TransactionListener> listeners;
    private volatile CircuitBreakerState breaker = CircuitBreakerState.CLOSED;
    private volatile FailureKind lastOutage; // what the breaker last counted: an open breaker's answer names it

    public TransactionListeners(Instance<TransactionListener> listeners) {
        this.listeners = listeners.stream().toList();
    }

    /** The database circuit breaker's state, as its last transition left it. */
    public CircuitBreakerState breakerState() {
        return breaker;
    }

    /**
     * The kind of the last outage failure the breaker counted (lost connections, refused credentials with
     * no connection left, an unknown commit outcome), or null: while the breaker is open, callers
     * and operators see what it is protecting them from, not only that it is open.
     */
    public FailureKind lastOutage() {
        return lastOutage;
    }

    void attemptStarted(long attemptId, String operation, int attempt) {
        for (TransactionListener listener : listeners) {
            listener.attemptStarted(attemptId, operation, attempt);
        }
    }

    void attemptEnded(long attemptId) {
        for (TransactionListener listener : listeners) {
            listener.attemptEnded(attemptId);
        }
    }

    void attemptFailed(String operation, DatabaseFailure failure, int attempt, boolean willRetry) {
        if (failure.kind().countsTowardBreaker()) {
            lastOutage = failure.kind();
        }
        for (TransactionListener listener : listeners) {
            listener.attemptFailed(operation, failure, attempt, willRetry);
        }
    }

    void unitSucceeded(String operation, int attempts, long nanos) {
        for (TransactionListener listener : listeners) {
            listener.unitSucceeded(operation, attempts, nanos);
        }
    }

    void unitFailed(String operation, DatabaseFailure failure, int attempts, long nanos) {
        for (TransactionListener listener : listeners) {
            listener.unitFailed(operation, failure, attempts, nanos);
        }
    }

    void rollbackFailed(String operation, DatabaseFailure failure) {
        for (TransactionListener listener : listeners) {
            listener.rollbackFailed(operation, failure);
        }
    }

    void savepointRolledBack(String operation, DatabaseFailure failure) {
        for (TransactionListener listener : listeners) {
            listener.savepointRolledBack(operation, failure);
        }
    }

    void breakerStateChanged(CircuitBreakerState state) {
        CircuitBreakerState previous;
        synchronized (this) {
            previous = breaker;
            breaker = state;
        }
        for (TransactionListener listener : listeners) {
            listener.breakerStateChanged(previous, state);
        }
    }
}
