package dev.bastion.database.monitor;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;

import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.FailureKind;
import dev.bastion.database.TransactionListener;
import dev.bastion.logging.BurstLog;
import dev.bastion.logging.LogSettings;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/**
 * Receives what the unit of work saw (failed attempts, finished units, breaker transitions) and
 * hands it on: contention and constraint events to their monitors, counts to
 * {@link TransactionWindows} (the admin figures) and {@link TransactionMeters} (Prometheus), and
 * breaker transitions to the log. Every method is cheap and never blocks: it runs on the event loop
 * in the request's path.
 */
@ApplicationScoped
public class TransactionEvents implements TransactionListener {

    private static final Logger LOG = Logger.getLogger(TransactionEvents.class);

    private final ContentionMonitor deadlocks;
    private final ConstraintMonitor constraints;
    private final Clock clock = Clock.systemUTC();
    private final TransactionWindows windows;
    private final TransactionMeters meters;
    private final AtomicReference<CircuitBreakerState> breaker = new AtomicReference<>(CircuitBreakerState.CLOSED);
    // every transaction of an outage loses its connection: one line and a count, not one line each
    private final BurstLog rollbackLog;
    private final BurstLog breakerLog;

    public TransactionEvents(MeterRegistry registry, ContentionMonitor deadlocks, ConstraintMonitor constraints,
                             DatabaseSettings guardrails, LogSettings logSettings) {
        Duration logWindow = logSettings.incidentWindow();
        this.rollbackLog = new BurstLog(LOG, Logger.Level.WARN, "Lost rollback", logWindow);
        this.breakerLog = new BurstLog(LOG, Logger.Level.WARN, "Breaker reopening", logWindow);
        this.deadlocks = deadlocks;
        this.constraints = constraints;
        this.windows = new TransactionWindows(clock, guardrails.slowThreshold());
        this.meters = new TransactionMeters(registry, breaker);
    }

    /** An attempt failed; {@code willRetry} says whether the unit runs again. */
    @Override
    public void attemptFailed(String operation, DatabaseFailure failure, int attempt, boolean willRetry) {
        FailureKind kind = failure.kind();
        if (kind.isContention()) {
            deadlocks.record(new ContentionEvent(Instant.now(clock), operation, kind.name(), failure.sqlState(),
                    failure.table(), attempt, willRetry ? ContentionEvent.Outcome.RETRIED : ContentionEvent.Outcome.GAVE_UP));
        } else if (kind.isConstraintViolation()) {
            constraints.record(new ConstraintViolationEvent(Instant.now(clock), operation, kind.name(), failure.constraint()));
        }
        if (willRetry) {
            meters.retried(kind.problemSlug());
            LOG.debugf("%s: attempt %d failed with %s, retrying", operation, attempt, kind);
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
        rollbackLog.record(operation, operation + ": transaction ended without a clean rollback (" + failure.kind()
                + "); its connection is discarded", null);
    }

    /** A nested step was rejected and undone with ROLLBACK TO SAVEPOINT; the outer transaction goes on. */
    @Override
    public void savepointRolledBack(String operation, DatabaseFailure failure) {
        windows.savepointRolledBack();
        meters.savepointRolledBack(operation, failure.kind().problemSlug());
        if (failure.kind().isConstraintViolation()) {
            constraints.record(new ConstraintViolationEvent(Instant.now(clock), operation, failure.kind().name(), failure.constraint()));
        }
    }

    @Override
    public void breakerStateChanged(CircuitBreakerState state) {
        CircuitBreakerState previous = breaker.getAndSet(state);
        if (previous == state) {
            return;
        }
        // while the database stays down the breaker tries a call every DB_BREAKER_DELAY seconds and opens
        // again: those re-openings are counted, not logged one by one
        if (previous == CircuitBreakerState.HALF_OPEN && state == CircuitBreakerState.OPEN) {
            breakerLog.record("reopened", "Database circuit breaker HALF_OPEN -> OPEN: the trial call failed too", null);
        } else if (state == CircuitBreakerState.OPEN) {
            LOG.warnf("Database circuit breaker %s -> OPEN: requests fail fast with 503", previous);
        } else if (state == CircuitBreakerState.CLOSED) {
            LOG.infof("Database circuit breaker %s -> CLOSED: the database answers again", previous);
        } else {
            LOG.debugf("Database circuit breaker %s -> %s", previous, state);
        }
    }

    @PreDestroy
    void close() {
        rollbackLog.close();
        breakerLog.close();
    }

    public TransactionStatistics statistics() {
        return windows.statistics(breaker.get().name().toLowerCase());
    }

    private void finished(String operation, String outcome, long nanos, int attempts, boolean succeeded, boolean serverFailure) {
        if (windows.unitFinished(nanos, attempts, succeeded, serverFailure)) {
            meters.slowUnit(operation);
        }
        meters.unitFinished(operation, outcome, nanos);
    }
}
