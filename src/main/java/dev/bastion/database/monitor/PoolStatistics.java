package dev.bastion.database.monitor;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import io.quarkus.runtime.annotations.RegisterForReflection;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.GuardedPoolCreator;
import dev.bastion.database.UnitOfWork;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.search.Search;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The pool as it is now, read from the Vert.x pool meters that Quarkus registers
 * ({@code quarkus.datasource.metrics.enabled}); nothing here is configured or estimated.
 */
@ApplicationScoped
@io.quarkus.runtime.Startup // its meters exist from the first scrape, not from the first admin request
public class PoolStatistics {

    private final MeterRegistry registry;
    private final DatabaseSettings guardrails;
    private final GuardedPoolCreator poolCreator;
    private final UnitOfWork unitOfWork;

    public PoolStatistics(MeterRegistry registry, DatabaseSettings guardrails, GuardedPoolCreator poolCreator,
                          UnitOfWork unitOfWork) {
        this.registry = registry;
        this.guardrails = guardrails;
        this.poolCreator = poolCreator;
        this.unitOfWork = unitOfWork;
        Gauge.builder("bastion.db.pool.connections", this, s -> s.snapshot().total())
                .description("Connections the pool holds open (busy or idle)")
                .register(registry);
        Gauge.builder("bastion.db.pool.connection.limit", unitOfWork, UnitOfWork::connectionLimit)
                .description("Connections the pool may use now: DB_POOL_SIZE + DB_MAX_OVERFLOW, or fewer while "
                        + "PostgreSQL refuses more (SQLSTATE 53300)")
                .register(registry);
        FunctionCounter.builder("bastion.db.unreplicated.commits", unitOfWork, u -> u.unreplicatedCommits().total())
                .description("Commits PostgreSQL acknowledged after cancelling their wait for a synchronous standby: "
                        + "on the primary only, lost by a failover at that moment")
                .register(registry);
        FunctionCounter.builder("bastion.db.admission.refusals", unitOfWork, UnitOfWork::refusedOnArrival)
                .description("API requests refused with 503 pool-exhausted on arrival, before any work: the pool could "
                        + "not have served them within DB_POOL_TIMEOUT or their deadline")
                .register(registry);
        FunctionCounter.builder("bastion.db.retries.over.budget", unitOfWork, UnitOfWork::retriesOverBudget)
                .description("Retries not run because at most about 20 % of attempts may be retries (the service's "
                        + "retry budget across requests)")
                .register(registry);
        Gauge.builder("bastion.db.admission.waiting", unitOfWork, UnitOfWork::admissionWaiters)
                .description("Requests waiting, without a connection, for their turn on the pool")
                .register(registry);
        if (poolCreator.writerStatus().isPresent()) { // DB_HOSTS: the writer the service found by itself
            FunctionCounter.builder("bastion.db.writer.changes", poolCreator,
                            c -> c.writerStatus().map(GuardedPoolCreator.WriterStatus::changes).orElse(0L))
                    .description("Times the node new connections go to changed among DB_HOSTS (a failover, a switchover)")
                    .register(registry);
            Gauge.builder("bastion.db.split.brain", poolCreator,
                            c -> c.writerStatus().map(w -> w.splitBrain().size()).orElse(0))
                    .description("Hosts of DB_HOSTS that take writes when more than one does (0 otherwise): a split "
                            + "brain; the service writes to the newest timeline's only")
                    .register(registry);
            for (String host : poolCreator.writerStatus().get().hosts()) { // one series per node of DB_HOSTS
                Gauge.builder("bastion.db.node.writable", poolCreator, c -> c.hostWritable(host))
                        .tag("host", host)
                        .description("Whether the node took writes at the last look (1, 0; NaN: it did not answer)")
                        .register(registry);
                Gauge.builder("bastion.db.node.replay.age.seconds", poolCreator, c -> c.hostReplayAgeSeconds(host))
                        .tag("host", host)
                        .description("Age of the last transaction a standby replayed, 0 for the writer: its lag")
                        .register(registry);
            }
        }
        Gauge.builder("bastion.db.pool.overflow", this, s -> s.snapshot().overflow())
                .description("Open connections above DB_POOL_SIZE")
                .register(registry);
    }

    /** With DB_HOSTS: the hosts, the writer found among them, a split brain. */
    public java.util.Optional<GuardedPoolCreator.WriterStatus> writerStatus() {
        return poolCreator.writerStatus();
    }

    public PoolSnapshot snapshot() {
        long active = Math.round(sum("sql.pool.active"));
        long waiting = Math.round(sum("sql.pool.queue.size")) + unitOfWork.admissionWaiters(); // the pool's queue and ours
        long total = Math.max(active, poolCreator.openConnections().orElse((int) active));
        long idle = total - active;
        int max = guardrails.poolMaxSize();
        return new PoolSnapshot(total, active, idle, waiting, max, guardrails.poolSize(),
                Math.max(0, total - guardrails.poolSize()), max == 0 ? 0 : Math.round(1000.0 * active / max) / 10.0,
                Math.round(counter("sql.pool.rejected")), Math.round(counter("sql.pool.completed")));
    }

    private double sum(String gauge) {
        return Search.in(registry).name(gauge).gauges().stream().mapToDouble(Gauge::value).filter(v -> !Double.isNaN(v)).sum();
    }

    private double counter(String name) {
        return Search.in(registry).name(name).counters().stream().mapToDouble(c -> c.count()).sum();
    }

    /**
     * @param overflow connections above DB_POOL_SIZE, opened under load and closed again when idle
     */
    @RegisterForReflection // serialised to JSON inside a generic or untyped response
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record PoolSnapshot(long total, long active, long idle, long waiting, int maxSize, int steadySize,
                               long overflow, double utilizationPercent, long rejected, long completed) {
    }
}
