package dev.bastion.metrics;

import dev.bastion.database.monitor.DatabaseMeters;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/**
 * Publishes histogram buckets for request and transaction latency, so dashboards and alerts can
 * compute p50/p99 across replicas ({@code histogram_quantile} over {@code _bucket} series).
 */
public class LatencyHistogramFilter {

    @Produces
    @Singleton
    public MeterFilter latencyBuckets() {
        return new MeterFilter() {
            @Override
            public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
                String name = id.getName();
                if (name.equals(HttpRequestTimer.NAME) || name.equals(DatabaseMeters.TRANSACTIONS)) {
                    return DistributionStatisticConfig.builder().percentilesHistogram(true).build().merge(config);
                }
                return config;
            }
        };
    }
}
