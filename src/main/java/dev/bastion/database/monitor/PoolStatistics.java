package dev.bastion.database.monitor;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import io.quarkus.runtime.annotations.RegisterForReflection;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.GuardedPoolCreator;
import dev.bastion.database.UnitOfWork;
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
                          UnitOfWork unitOfWork, DatabaseMeters meters) {
        this.registry = registry;
        this.guardrails = guardrails;
        this.poolCreator = poolCreator;
        this.unitOfWork = unitOfWork;
        meters.bindPool(this, unitOfWork, poolCreator);
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
