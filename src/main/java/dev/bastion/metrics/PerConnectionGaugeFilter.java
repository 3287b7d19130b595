package dev.bastion.metrics;

import io.micrometer.core.instrument.config.MeterFilter;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/**
 * Drops the Vert.x SQL client's per-connection queue gauge. Vert.x creates client metrics for every
 * socket connection, and Quarkus's binder registers the same gauge id for each, so the second
 * pooled connection makes Micrometer log a WARN at start-up and the gauge only ever shows the first
 * connection. The pool's own meters ({@code sql_pool_*}) and Bastion's admission gauges say what the
 * queue is.
 */
public class PerConnectionGaugeFilter {

    static final String PER_CONNECTION_QUEUE = "postgresql.queue.size";

    @Produces
    @Singleton
    public MeterFilter withoutPerConnectionQueueGauge() {
        return MeterFilter.deny(id -> id.getName().equals(PER_CONNECTION_QUEUE));
    }
}
