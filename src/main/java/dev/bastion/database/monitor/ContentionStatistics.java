package dev.bastion.database.monitor;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;
import java.util.Map;

/** A read-only snapshot of {@link ContentionMonitor}. Counts include serialization failures. */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ContentionStatistics(long lastHour, @JsonProperty("last_24h") long last24h, @JsonProperty("recovered_24h") long recovered24h, @JsonProperty("gave_up_24h") long gaveUp24h,
                                 @JsonProperty("serialization_failures_24h") long serializationFailures24h, ContentionMonitor.Severity severity, @JsonProperty("by_operation_24h") Map<String, Long> byOperation24h,
                                 List<String> recommendations, List<ContentionEvent> recent) {
}
