package dev.bastion.database.monitor;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.smallrye.faulttolerance.api.CircuitBreakerState;

/**
 * The {@code bastion_db_*} meters of units of work, bound in this one place. Each series is
 * registered once, the first time its operation and tags are seen; afterwards the request path only
 * adds to a {@link LongAdder} (read by Micrometer at scrape time through a function counter) or
 * records into a timer it already holds, never building or looking up a meter through the registry.
 * The timer stays a real {@link Timer}: its histogram buckets are what dashboards take p99 from.
 */
final class TransactionMeters {

    private record Series(String meter, Tags tags) {
    }

    /** The key of the per-unit timer: two strings the caller already holds, so a lookup allocates one small record. */
    private record OperationOutcome(String operation, String outcome) {
    }

    private final MeterRegistry registry;
    private final Map<Series, LongAdder> counters = new ConcurrentHashMap<>();
    private final Map<OperationOutcome, Timer> timers = new ConcurrentHashMap<>();

    TransactionMeters(MeterRegistry registry, java.util.function.Supplier<CircuitBreakerState> breaker) {
        this.registry = registry;
        Gauge.builder("bastion.db.circuit.breaker.state", breaker, b -> switch (b.get()) {
                    case CLOSED -> 0;
                    case HALF_OPEN -> 1;
                    case OPEN -> 2;
                })
                .description("Database circuit breaker: 0 closed, 1 half-open, 2 open")
                .register(registry);
    }

    void unitFinished(String operation, String outcome, long nanos) {
        timers.computeIfAbsent(new OperationOutcome(operation, outcome),
                        series -> Timer.builder("bastion.db.transactions")
                                .description("Units of work by operation and outcome, including retries")
                                .tag("operation", series.operation())
                                .tag("outcome", series.outcome())
                                .register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    void slowUnit(String operation) {
        count("bastion.db.slow.transactions", "Units of work slower than bastion.db.slow-threshold",
                Tags.of("operation", operation));
    }

    void retried(String kind) {
        count("bastion.db.retries", "Transactions run again after a transient failure", Tags.of("kind", kind));
    }

    void refusedForHeldLock(String operation) {
        count("bastion.db.held.lock.refusals",
                "Requests answered 503 lock-not-available: the row they write stayed locked by other work past their deadline",
                Tags.of("operation", operation));
    }

    void rollbackFailed(String operation) {
        count("bastion.db.rollback.failures",
                "Transactions whose rollback could not run on their connection; the connection was discarded",
                Tags.of("operation", operation));
    }

    void savepointRolledBack(String operation, String kind) {
        count("bastion.db.savepoint.rollbacks", "Nested steps undone by rolling back to their savepoint",
                Tags.of("operation", operation, "kind", kind));
    }

    /** Failure-path counters: the Tags built per call are cheap next to the failure they count. */
    private void count(String meter, String description, Tags tags) {
        counters.computeIfAbsent(new Series(meter, tags), series -> {
            LongAdder adder = new LongAdder();
            FunctionCounter.builder(meter, adder, LongAdder::sum).description(description).tags(tags).register(registry);
            return adder;
        }).increment();
    }
}
