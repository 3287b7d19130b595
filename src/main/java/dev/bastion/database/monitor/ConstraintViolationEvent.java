package dev.bastion.database.monitor;

import java.time.Instant;

/** One constraint violation reported by PostgreSQL (the constraint is the schema's name for it). */
public record ConstraintViolationEvent(Instant at, String operation, String kind, String constraint) {
}
