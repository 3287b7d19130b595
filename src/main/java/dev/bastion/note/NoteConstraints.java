package dev.bastion.note;

import java.util.Optional;

import dev.bastion.api.ConstraintDescriptions;
import jakarta.inject.Singleton;

/** What the note table's named constraint (V1__customer.sql) means to an API caller. */
@Singleton
public class NoteConstraints implements ConstraintDescriptions {

    private static final ConstraintDescription CUSTOMER_FK = new ConstraintDescription("customerId",
            "The note and the customer it belongs to are out of step.",
            "Check that the customer exists and has no notes left before deleting it.");

    @Override
    public Optional<ConstraintDescription> describe(String constraintName) {
        return "customer_note_customer_fk".equals(constraintName) ? Optional.of(CUSTOMER_FK) : Optional.empty();
    }
}
