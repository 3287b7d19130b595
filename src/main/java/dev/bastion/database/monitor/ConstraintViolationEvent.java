package dev.bastion.database.monitor;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.time.Instant;

/** One constraint violation reported by PostgreSQL (the constraint is the schema's name for it). */
@RegisterForReflection // serialised to JSON inside a generic or untyped response
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ConstraintViolationEvent(Instant at, String operation, String kind, String constraint) {
}
