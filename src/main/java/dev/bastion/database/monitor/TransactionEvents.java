package dev.bastion.database.monitor;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.DatabaseGuardrails;
import dev.bastion.database.FailureKind;
import dev.bastion.database.TransactionListener;
import dev.bastion.logging.BurstLog;
import dev.bastion.logging.LogSettings;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/**
 * Receives what the unit of work saw (failed attempts, finished units, breaker transitions) and
 * fans it out to the monitors and to Micrometer. Every method is cheap and never blocks: it runs
 * on the event loop in the request's path.
 */
@ApplicationScoped
public class TransactionEvents implements TransactionListener {

    private static final Logger LOG = Logger.getLogger(TransactionEvents.class);

    private final MeterRegistry registry;
    private final DeadlockMonitor deadlocks;
    private final ConstraintMonitor constraints;
    private final Duration slowThreshold;
    private final Clock clock = Clock.systemUTC();
    private final SlidingWindow units = new SlidingWindow(clock);
    private final SlidingWindow serverFailures = new SlidingWindow(clock);
    private final SlidingWindow unitsWithRetries = new SlidingWindow(clock);
    private final SlidingWindow recoveredUnits = new SlidingWindow(clock);
    private final SlidingWindow slowUnits = new SlidingWindow(clock);
    private final SlidingWindow durationMicros = new SlidingWindow(clock);
    private final SlidingWindow rollbackFailures = new SlidingWindow(clock);
    private final SlidingWindow savepointRollbacks = new SlidingWindow(clock);
    private final AtomicReference<CircuitBreakerState> breaker = new AtomicReference<>(CircuitBreakerState.CLOSED);
    // every transaction of an outage loses its connection: one line and a count, not one line each
    private final BurstLog rollbackLog;
    private final BurstLog breakerLog;

    public TransactionEvents(MeterRegistry registry, DeadlockMonitor deadlocks, ConstraintMonitor constraints,
                             DatabaseGuardrails guardrails, LogSettings logSettings) {
        this.registry = registry;
        Duration logWindow = logSettings.incidentWindow();
        this.rollbackLog = new BurstLog(LOG, Logger.Level.WARN, "Lost rollback", logWindow);
        this.breakerLog = new BurstLog(LOG, Logger.Level.WARN, "Breaker reopening", logWindow);
        this.deadlocks = deadlocks;
        this.constraints = constraints;
        this.slowThreshold = guardrails.slowThreshold();
        Gauge.builder("bastion.db.circuit.breaker.state", breaker, b -> switch (b.get()) {
                    case CLOSED -> 0;
                    case HALF_OPEN -> 1;
                    case OPEN -> 2;
                })
                .description("Database circuit breaker: 0 closed, 1 half-open, 2 open")
                .register(registry);
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
            Counter.builder("bastion.db.retries")
                    .description("Transactions run again after a transient failure")
                    .tag("kind", kind.problemSlug())
                    .register(registry).increment();
            LOG.debugf("%s: attempt %d failed with %s, retrying", operation, attempt, kind);
        }
    }

    @Override
    public void unitSucceeded(String operation, int attempts, long nanos) {
        finished(operation, "success", nanos);
        if (attempts > 1) {
            unitsWithRetries.increment();
            recoveredUnits.increment();
        }
    }

    @Override
    public void unitFailed(String operation, DatabaseFailure failure, int attempts, long nanos) {
        finished(operation, failure.kind().problemSlug(), nanos);
        // a constraint violation or a stale version is the caller's conflict (4xx), not a database failure
        if (failure.kind().httpStatus() >= 500) {
            serverFailures.increment();
        }
        if (attempts > 1) {
            unitsWithRetries.increment();
        }
        if (failure.kind() == FailureKind.OTHER) {
            // the response's own log line (ERROR, with its incident id) reports it; this one only adds the operation
            LOG.debugf("%s failed with an unclassified database error (SQLSTATE %s)", operation, failure.sqlState());
        }
    }

    /** A transaction could not be rolled back on its connection (lost mid-transaction, or ROLLBACK failed). */
    @Override
    public void rollbackFailed(String operation, DatabaseFailure failure) {
        rollbackFailures.increment();
        Counter.builder("bastion.db.rollback.failures")
                .description("Transactions whose rollback could not run on their connection; the connection was discarded")
                .tag("operation", operation)
                .register(registry).increment();
        rollbackLog.record(operation, operation + ": transaction ended without a clean rollback (" + failure.kind()
                + "); its connection is discarded", null);
    }

    /** A nested step was rejected and undone with ROLLBACK TO SAVEPOINT; the outer transaction goes on. */
    @Override
    public void savepointRolledBack(String operation, DatabaseFailure failure) {
        savepointRollbacks.increment();
        Counter.builder("bastion.db.savepoint.rollbacks")
                .description("Nested steps undone by rolling back to their savepoint")
                .tag("operation", operation)
                .tag("kind", failure.kind().problemSlug())
                .register(registry).increment();
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
        Duration day = Duration.ofHours(24);
        long count = units.sum(day);
        long retried = unitsWithRetries.sum(day);
        return new TransactionStatistics(count, serverFailures.sum(Duration.ofHours(1)),
                count == 0 ? 0.0 : durationMicros.sum(day) / 1000.0 / count,
                slowUnits.sum(day), retried, retried == 0 ? null : (Double) ((double) recoveredUnits.sum(day) / retried),
                rollbackFailures.sum(day), savepointRollbacks.sum(day), breaker.get().name().toLowerCase());
    }

    private void finished(String operation, String outcome, long nanos) {
        units.increment();
        durationMicros.add(nanos / 1000);
        if (nanos > slowThreshold.toNanos()) {
            slowUnits.increment();
            Counter.builder("bastion.db.slow.transactions")
                    .description("Units of work slower than bastion.db.slow-threshold")
                    .tag("operation", operation)
                    .register(registry).increment();
        }
        Timer.builder("bastion.db.transactions")
                .description("Units of work by operation and outcome, including retries")
                .tag("operation", operation)
                .tag("outcome", outcome)
                .register(registry)
                .record(nanos, TimeUnit.NANOSECONDS);
    }
}
