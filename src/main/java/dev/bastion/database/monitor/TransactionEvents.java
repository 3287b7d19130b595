package dev.bastion.database.monitor;

import java.time.Clock;
import java.util.function.Supplier;

import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.FailureKind;
import dev.bastion.database.TransactionListener;
import dev.bastion.database.TransactionListeners;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import jakarta.inject.Inject;
import jakarta.inject.Provider;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/**
 * Counts what the unit of work reports: into {@link TransactionWindows} (the admin figures) and
 * {@link DatabaseMeters} (Prometheus). One listener among others: contention, constraint
 * violations, long transactions and the log lines each listen for themselves. The breaker's state
 * has one owner, {@link TransactionListeners}; the gauge and the admin figures read it there. Every
 * method is cheap and never blocks: it runs on the event loop in the request's path.
 */
@Singleton
public class TransactionEvents implements TransactionListener {

    private static final Logger LOG = Logger.getLogger(TransactionEvents.class);

    private final Clock clock = Clock.systemUTC();
    private final TransactionWindows windows;
    private final DatabaseMeters meters;
    private final Supplier<CircuitBreakerState> breaker;

    /** {@code listeners} through a Provider: they hold this bean, and neither has a client proxy to break the cycle. */
    @Inject
    public TransactionEvents(DatabaseMeters meters, Provider<TransactionListeners> listeners, DatabaseSettings guardrails) {
        this(meters, (Supplier<CircuitBreakerState>) () -> listeners.get().breakerState(), guardrails);
    }

    /** With the breaker's state from elsewhere (tests). */
    TransactionEvents(MeterRegistry registry, Supplier<CircuitBreakerState> breaker, DatabaseSettings guardrails) {
        this(new DatabaseMeters(registry), breaker, guardrails);
    }

    private TransactionEvents(DatabaseMeters meters, Supplier<CircuitBreakerState> breaker, DatabaseSettings guardrails) {
        this.breaker = breaker;
        this.windows = new TransactionWindows(clock, guardrails.slowThreshold());
        this.meters = meters;
        meters.bindBreaker(breaker);
    }

    /** An attempt failed; {@code willRetry} says whether the unit runs again. */
    @Override
    public void attemptFailed(String operation, DatabaseFailure failure, int attempt, boolean willRetry) {
        if (willRetry) {
            meters.retried(failure.kind().problemSlug());
            LOG.debugf("%s: attempt %d failed with %s, retrying", operation, attempt, failure.kind());
        }
    }

    @Override
    public void unitSucceeded(String operation, int attempts, long nanos) {
        finished(operation, "success", nanos, attempts, true, false);
    }

    @Override
    public void unitFailed(String operation, DatabaseFailure failure, int attempts, long nanos) {
        // a constraint violation or a stale version is the caller's conflict (4xx), not a database failure
        finished(operation, failure.kind().problemSlug(), nanos, attempts, false, failure.kind().httpStatus() >= 500);
        if (failure.kind() == FailureKind.LOCK_NOT_AVAILABLE) {
            meters.refusedForHeldLock(operation);
        }
        if (failure.kind() == FailureKind.OTHER) {
            // the response's own log line (ERROR, with its incident id) reports it; this one only adds the operation
            LOG.debugf("%s failed with an unclassified database error (SQLSTATE %s)", operation, failure.sqlState());
        }
    }

    /** A transaction could not be rolled back on its connection (lost mid-transaction, or ROLLBACK failed). */
    @Override
    public void rollbackFailed(String operation, DatabaseFailure failure) {
        windows.rollbackFailed();
        meters.rollbackFailed(operation);
    }

    /** A nested step was rejected and undone with ROLLBACK TO SAVEPOINT; the outer transaction goes on. */
    @Override
    public void savepointRolledBack(String operation, DatabaseFailure failure) {
        windows.savepointRolledBack();
        meters.savepointRolledBack(operation, failure.kind().problemSlug());
    }

    public TransactionStatistics statistics() {
        return windows.statistics(breaker.get());
    }

    private void finished(String operation, String outcome, long nanos, int attempts, boolean succeeded, boolean serverFailure) {
        if (windows.unitFinished(nanos, attempts, succeeded, serverFailure)) {
            meters.slowUnit(operation);
        }
        meters.unitFinished(operation, outcome, nanos);
    }
}
