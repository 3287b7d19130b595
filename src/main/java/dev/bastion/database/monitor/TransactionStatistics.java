package dev.bastion.database.monitor;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Units of work over the last 24 hours (failures: last hour).
 *
 * @param recoverySuccessRate share of units that hit a retryable failure and still succeeded (1.0 when none did)
 */
@RegisterForReflection // serialised to JSON inside a generic or untyped response
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record TransactionStatistics(@JsonProperty("units_24h") long units24h, long failedLastHour, double avgDurationMs, @JsonProperty("slow_24h") long slow24h,
                                    @JsonProperty("retried_24h") long retried24h, double recoverySuccessRate, @JsonProperty("rollback_failures_24h") long rollbackFailures24h,
                                    @JsonProperty("savepoint_rollbacks_24h") long savepointRollbacks24h, String breakerState) {
}
