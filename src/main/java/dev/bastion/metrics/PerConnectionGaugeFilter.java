package dev.bastion.metrics;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/**
 * Drops the Vert.x SQL client's per-connection gauges ({@code <client>.current} and
 * {@code <client>.queue.size}, e.g. {@code postgresql.current}). Vert.x creates client metrics for
 * every socket connection, and Quarkus's binder registers the same gauge id for each, so the second
 * connection of any SQL client (the pool, writer discovery) made Micrometer log a WARN, and the gauge
 * only ever showed the first connection. The per-connection counters and timers add up across
 * connections and stay. The pool's own meters ({@code sql_pool_*}) and Bastion's admission gauges
 * say what is in use and what waits.
 */
public class PerConnectionGaugeFilter {

    static final String CLIENT_TYPE = "clientType";

    @Produces
    @Singleton
    public MeterFilter withoutPerConnectionGauges() {
        return MeterFilter.deny(PerConnectionGaugeFilter::perConnectionGauge);
    }

    static boolean perConnectionGauge(Meter.Id id) {
        return "sql".equals(id.getTag(CLIENT_TYPE)) && id.getType() == Meter.Type.GAUGE
                && (id.getName().endsWith(".current") || id.getName().endsWith(".queue.size"));
    }
}
