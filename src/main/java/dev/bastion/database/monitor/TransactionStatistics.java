package dev.bastion.database.monitor;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import io.quarkus.runtime.annotations.RegisterForReflection;
import io.smallrye.faulttolerance.api.CircuitBreakerState;

/**
 * Units of work (transactions, with their statements and retries) over the last 24 hours.
 *
 * @param serverFailuresLastHour units that ended in a server-side failure (a 5xx: database unreachable,
 *                               contention that outlasted the retries, timeouts) in the last hour;
 *                               constraint violations and stale versions are the caller's conflicts, not counted
 * @param avgDurationMs          mean duration of a unit of work, retries and backoff included
 * @param slow24h                units slower than {@code bastion.db.slow-threshold} (1 s)
 * @param recoverySuccessRate    share of the units that hit a retryable failure and still succeeded; null
 *                               when no unit needed a retry (there is nothing to rate)
 */
@RegisterForReflection // serialised to JSON inside a generic or untyped response
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record TransactionStatistics(@JsonProperty("units_24h") long units24h, long serverFailuresLastHour, double avgDurationMs, @JsonProperty("slow_24h") long slow24h,
                                    @JsonProperty("retried_24h") long retried24h, Double recoverySuccessRate, @JsonProperty("rollback_failures_24h") long rollbackFailures24h,
                                    @JsonProperty("savepoint_rollbacks_24h") long savepointRollbacks24h,
                                    @JsonIgnore CircuitBreakerState breaker) {

    /** The breaker's state as the JSON says it: closed, half_open, open. */
    @JsonProperty("breaker_state")
    public String breakerState() {
        return breaker.name().toLowerCase(java.util.Locale.ROOT);
    }
}
