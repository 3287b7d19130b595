package dev.bastion.database.monitor;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Units of work over the last 24 hours (failures: last hour).
 *
 * @param recoverySuccessRate share of units that hit a retryable failure and still succeeded (1.0 when none did)
 */
@RegisterForReflection // serialised to JSON inside a generic or untyped response
public record TransactionStatistics(long units24h, long failedLastHour, double avgDurationMs, long slow24h,
                                    long retried24h, double recoverySuccessRate, long rollbackFailures24h,
                                    long savepointRollbacks24h, String breakerState) {
}
