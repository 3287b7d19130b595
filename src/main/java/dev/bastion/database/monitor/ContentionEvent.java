package dev.bastion.database.monitor;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.time.Instant;

import dev.bastion.database.FailureKind;

/**
 * One deadlock or serialization failure seen by the unit of work.
 *
 * @param outcome RETRIED (another attempt follows) or GAVE_UP (the caller got an error)
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ContentionEvent(Instant at, String operation, FailureKind kind, String sqlState, String table,
                              int attempt, Outcome outcome) {

    public enum Outcome { RETRIED, GAVE_UP }
}
