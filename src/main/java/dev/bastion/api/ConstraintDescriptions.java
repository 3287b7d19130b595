package dev.bastion.api;

import java.util.Optional;

/**
 * Schema knowledge a feature contributes so that a constraint PostgreSQL names can be explained in
 * API terms: which request field it guards and what to do about it. Internal constraint names never
 * leave the service; unknown constraints get the generic text of their failure kind.
 */
public interface ConstraintDescriptions {

    Optional<ConstraintDescription> describe(String constraintName);

    record ConstraintDescription(String field, String detail, String suggestion) {
    }
}
