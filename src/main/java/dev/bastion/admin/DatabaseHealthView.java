package dev.bastion.admin;

import java.time.Instant;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/** GET /admin/database/health, with the seed's snake_case field names. */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record DatabaseHealthView(Summary summary, ConnectionPool connectionPool, Performance performance,
                                 Reliability reliability, List<String> recommendations, List<String> alerts) {

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Summary(String status, Instant timestamp, boolean databaseReachable, Long roundTripMs,
                          String circuitBreaker) {
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record ConnectionPool(long totalConnections, long activeConnections, long idleConnections,
                                 long waitingConnections, double utilizationPercent, long overflowConnections,
                                 int poolSize, int maxOverflow, int maxConnections, long rejectedRequests) {
    }

    /**
     * What the service measures is the unit of work (one transaction with its statements, retries and
     * backoff), not single queries: the fields say so (they were avg_query_time_ms and slow_queries_24h).
     *
     * @param avgTransactionTimeMs mean duration of a unit of work over the last 24 h
     * @param slowTransactions24h  units slower than bastion.db.slow-threshold (1 s) in the last 24 h
     * @param errorRatePerHour     units that ended in a server-side database failure (a 5xx) in the last
     *                             hour; a 409 or 422 from a constraint is the caller's conflict, not counted
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Performance(double avgTransactionTimeMs, @JsonProperty("slow_transactions_24h") long slowTransactions24h,
                              long errorRatePerHour, @JsonProperty("transactions_24h") long transactions24h,
                              @JsonProperty("long_transactions_24h") long longTransactions24h) {
    }

    /**
     * @param recoverySuccessRate share of the transactions that needed a retry and then succeeded; null
     *                            when none needed one in the last 24 h
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Reliability(@JsonProperty("deadlocks_24h") long deadlocks24h, String deadlockSeverity, Double recoverySuccessRate,
                              @JsonProperty("retried_transactions_24h") long retriedTransactions24h, @JsonProperty("rollback_failures_24h") long rollbackFailures24h, @JsonProperty("savepoint_rollbacks_24h") long savepointRollbacks24h,
                              @JsonProperty("constraint_violations_24h") java.util.Map<String, Long> constraintViolations24h) {
    }
}
