package dev.bastion.database.monitor;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

import dev.bastion.database.GuardedPoolCreator;
import dev.bastion.database.UnitOfWork;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import jakarta.inject.Singleton;

/**
 * Every {@code bastion_db_*} meter, named and registered here and nowhere else: the monitors report
 * events, this class turns them into series. A counted series is registered once, the first time
 * its tags are seen; afterwards an event only adds to a {@link LongAdder} (read by Micrometer at
 * scrape time through a function counter) or records into a timer it already holds, never building
 * or looking up a meter through the registry. The unit timer stays a real {@link Timer}: its
 * histogram buckets ({@code metrics/LatencyHistogramFilter}) are what dashboards take p99 from.
 */
@Singleton
public class DatabaseMeters {

    public static final String TRANSACTIONS = "bastion.db.transactions";
    static final String TRANSACTIONS_OPEN = "bastion.db.transactions.open";
    static final String SLOW_TRANSACTIONS = "bastion.db.slow.transactions";
    static final String LONG_TRANSACTIONS = "bastion.db.long.transactions";
    static final String RETRIES = "bastion.db.retries";
    static final String RETRIES_OVER_BUDGET = "bastion.db.retries.over.budget";
    static final String HELD_LOCK_REFUSALS = "bastion.db.held.lock.refusals";
    static final String ROLLBACK_FAILURES = "bastion.db.rollback.failures";
    static final String SAVEPOINT_ROLLBACKS = "bastion.db.savepoint.rollbacks";
    static final String CONTENTION = "bastion.db.deadlocks"; // deadlocks and serialization failures; the name dashboards know
    static final String CONSTRAINT_VIOLATIONS = "bastion.db.constraint.violations";
    static final String CIRCUIT_BREAKER_STATE = "bastion.db.circuit.breaker.state";
    static final String POOL_CONNECTIONS = "bastion.db.pool.connections";
    static final String POOL_CONNECTION_LIMIT = "bastion.db.pool.connection.limit";
    static final String POOL_OVERFLOW = "bastion.db.pool.overflow";
    static final String ADMISSION_REFUSALS = "bastion.db.admission.refusals";
    static final String READS_RIDDEN_ALONG = "bastion.db.admission.shared.reads";
    static final String LOGINS_REFUSED = "bastion.db.logins.refused";
    static final String ADMISSION_WAITING = "bastion.db.admission.waiting";
    static final String ADMISSION_PARKED = "bastion.db.admission.parked";
    static final String ADMISSION_PARKED_SECONDS = "bastion.db.admission.parked.seconds";
    static final String ROW_WAITING = "bastion.db.row.waiting";
    static final String UNREPLICATED_COMMITS = "bastion.db.unreplicated.commits";
    static final String WRITER_CHANGES = "bastion.db.writer.changes";
    static final String SPLIT_BRAIN = "bastion.db.split.brain";
    static final String NODE_WRITABLE = "bastion.db.node.writable";
    static final String NODE_REPLAY_AGE = "bastion.db.node.replay.age.seconds";

    private record Series(String meter, Tags tags) {
    }

    /** The key of the per-unit timer: two strings the caller already holds, so a lookup allocates one small record. */
    private record OperationOutcome(String operation, String outcome) {
    }

    private final MeterRegistry registry;
    private final Map<Series, LongAdder> counters = new ConcurrentHashMap<>();
    private final Map<OperationOutcome, Timer> timers = new ConcurrentHashMap<>();
    private final Map<Series, Counter> plainCounters = new ConcurrentHashMap<>();

    public DatabaseMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    // --- units of work -------------------------------------------------------------------------

    void unitFinished(String operation, String outcome, long nanos) {
        timers.computeIfAbsent(new OperationOutcome(operation, outcome),
                        series -> Timer.builder(TRANSACTIONS)
                                .description("Units of work by operation and outcome, including retries")
                                .tag("operation", series.operation())
                                .tag("outcome", series.outcome())
                                .register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    void slowUnit(String operation) {
        count(SLOW_TRANSACTIONS, "Units of work slower than bastion.db.slow-threshold", Tags.of("operation", operation));
    }

    void retried(String kind) {
        count(RETRIES, "Transactions run again after a transient failure", Tags.of("kind", kind));
    }

    void refusedForHeldLock(String operation) {
        count(HELD_LOCK_REFUSALS,
                "Requests answered 503 lock-not-available: the row they write stayed locked by other work past their deadline",
                Tags.of("operation", operation));
    }

    void rollbackFailed(String operation) {
        count(ROLLBACK_FAILURES,
                "Transactions whose rollback could not run on their connection; the connection was discarded",
                Tags.of("operation", operation));
    }

    void savepointRolledBack(String operation, String kind) {
        count(SAVEPOINT_ROLLBACKS, "Nested steps undone by rolling back to their savepoint",
                Tags.of("operation", operation, "kind", kind));
    }

    void contention(String kind, String outcome) {
        counter(CONTENTION, "Deadlocks and serialization failures seen by the unit of work",
                Tags.of("kind", kind, "outcome", outcome));
    }

    void constraintViolated(String kind, String constraint) {
        counter(CONSTRAINT_VIOLATIONS, "Constraint violations reported by PostgreSQL",
                Tags.of("kind", kind, "constraint", constraint));
    }

    void longTransaction(String operation) {
        counter(LONG_TRANSACTIONS, "Transactions held longer than DB_LEAK_THRESHOLD (possible leaks)",
                Tags.of("operation", operation));
    }

    /** Counted series: the Tags built per call are cheap next to the failure or event they count. */
    private void count(String meter, String description, Tags tags) {
        counters.computeIfAbsent(new Series(meter, tags), series -> {
            LongAdder adder = new LongAdder();
            FunctionCounter.builder(meter, adder, LongAdder::sum).description(description).tags(tags).register(registry);
            return adder;
        }).increment();
    }

    /** Events off the request path (monitors' events): a plain counter, bound once per series. */
    private void counter(String meter, String description, Tags tags) {
        plainCounters.computeIfAbsent(new Series(meter, tags),
                series -> Counter.builder(meter).description(description).tags(tags).register(registry)).increment();
    }

    // --- state read at scrape time -------------------------------------------------------------

    void bindBreaker(Supplier<CircuitBreakerState> breaker) {
        Gauge.builder(CIRCUIT_BREAKER_STATE, breaker, b -> switch (b.get()) {
                    case CLOSED -> 0;
                    case HALF_OPEN -> 1;
                    case OPEN -> 2;
                })
                .description("Database circuit breaker: 0 closed, 1 half-open, 2 open")
                .register(registry);
    }

    void bindOpenTransactions(Map<?, ?> running) {
        Gauge.builder(TRANSACTIONS_OPEN, running, Map::size)
                .description("Units of work currently holding a session")
                .register(registry);
    }

    void bindPool(PoolStatistics pool, UnitOfWork unitOfWork, GuardedPoolCreator poolCreator) {
        Gauge.builder(POOL_CONNECTIONS, pool, s -> s.snapshot().total())
                .description("Connections the pool holds open (busy or idle)")
                .register(registry);
        Gauge.builder(POOL_OVERFLOW, pool, s -> s.snapshot().overflow())
                .description("Open connections above DB_POOL_SIZE")
                .register(registry);
        Gauge.builder(POOL_CONNECTION_LIMIT, unitOfWork, UnitOfWork::connectionLimit)
                .description("Connections the pool may use now: DB_POOL_SIZE + DB_MAX_OVERFLOW, or fewer while "
                        + "PostgreSQL refuses more (SQLSTATE 53300, or new logins while others are logged in)")
                .register(registry);
        FunctionCounter.builder(UNREPLICATED_COMMITS, unitOfWork, u -> u.unreplicatedCommits().total())
                .description("Commits PostgreSQL acknowledged after cancelling their wait for a synchronous standby: "
                        + "on the primary only, lost by a failover at that moment")
                .register(registry);
        FunctionCounter.builder(LOGINS_REFUSED, unitOfWork, UnitOfWork::loginsRefused)
                .description("New connections PostgreSQL refused for the service's login (a rotated password, a revoked "
                        + "CONNECT) while the pool served on connections logged in earlier")
                .register(registry);
        FunctionCounter.builder(ADMISSION_REFUSALS, unitOfWork, UnitOfWork::refusedOnArrival)
                .description("API requests refused with 503 pool-exhausted before any work, on arrival or when their "
                        + "wait at the door ran out: the pool could not serve them within DB_POOL_TIMEOUT or their deadline")
                .register(registry);
        FunctionCounter.builder(READS_RIDDEN_ALONG, unitOfWork, UnitOfWork::readsRiddenAlong)
                .description("Reads by id answered by another read's statement, having queued for the pool with it "
                        + "(one statement answers up to 32): none while the pool has a free place")
                .register(registry);
        FunctionCounter.builder(RETRIES_OVER_BUDGET, unitOfWork, UnitOfWork::retriesOverBudget)
                .description("Retries not run because at most about 20 % of attempts may be retries (the service's "
                        + "retry budget across requests)")
                .register(registry);
        Gauge.builder(ADMISSION_WAITING, unitOfWork, UnitOfWork::admissionWaiters)
                .description("Requests waiting, without a connection, for their turn on the pool (inside the admission, "
                        + "or at its door before their route ran)")
                .register(registry);
        Gauge.builder(ADMISSION_PARKED, unitOfWork, UnitOfWork::admissionParked)
                .description("HTTP connections whose next request is left unread while the admission's door is full: "
                        + "a crowd waits in the kernel's socket buffers, not in the heap")
                .register(registry);
        FunctionCounter.builder(ADMISSION_PARKED_SECONDS, unitOfWork, UnitOfWork::admissionParkedSeconds)
                .description("Seconds HTTP connections spent parked, summed as each is resumed: a wait before the "
                        + "request is read, which http_server_requests leaves out (an upper bound: a connection idle "
                        + "between requests counts its idle time too)")
                .register(registry);
        Gauge.builder(ROW_WAITING, unitOfWork, UnitOfWork::rowWaiters)
                .description("Writes queued, without a connection, for a turn on a row that DB_MAX_CONNECTIONS_PER_ROW "
                        + "others are writing (a hot or held row); a caller gone counts until the queue reaches it")
                .register(registry);
        if (poolCreator.writerStatus().isPresent()) { // DB_HOSTS: the writer the service found by itself
            FunctionCounter.builder(WRITER_CHANGES, poolCreator,
                            c -> c.writerStatus().map(GuardedPoolCreator.WriterStatus::changes).orElse(0L))
                    .description("Times the node new connections go to changed among DB_HOSTS (a failover, a switchover)")
                    .register(registry);
            Gauge.builder(SPLIT_BRAIN, poolCreator, c -> c.writerStatus().map(w -> w.splitBrain().size()).orElse(0))
                    .description("Hosts of DB_HOSTS that take writes when more than one does (0 otherwise): a split "
                            + "brain; the service writes to the newest timeline's only")
                    .register(registry);
            for (String host : poolCreator.writerStatus().get().hosts()) { // one series per node of DB_HOSTS
                Gauge.builder(NODE_WRITABLE, poolCreator, c -> c.hostWritable(host))
                        .tag("host", host)
                        .description("Whether the node took writes at the last look (1, 0; NaN: it did not answer)")
                        .register(registry);
                Gauge.builder(NODE_REPLAY_AGE, poolCreator, c -> c.hostReplayAgeSeconds(host))
                        .tag("host", host)
                        .description("Age of the last transaction a standby replayed, 0 for the writer: its lag")
                        .register(registry);
            }
        }
    }
}
