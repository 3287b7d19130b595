package dev.bastion.database.monitor;

import java.util.List;
import java.util.Map;

/** A read-only snapshot of {@link DeadlockMonitor}. Counts include serialization failures. */
public record DeadlockStatistics(long lastHour, long last24h, long recovered24h, long gaveUp24h,
                                 long serializationFailures24h, String severity, Map<String, Long> byOperation24h,
                                 List<String> recommendations, List<ContentionEvent> recent) {
}
