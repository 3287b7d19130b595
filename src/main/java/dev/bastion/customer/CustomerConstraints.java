package dev.bastion.customer;

import java.util.Map;
import java.util.Optional;

import dev.bastion.api.ConstraintDescriptions;
import jakarta.inject.Singleton;

/** What the customer table's named constraints (V1__customer.sql) mean to an API caller; notes and transfers describe theirs. */
@Singleton
public class CustomerConstraints implements ConstraintDescriptions {

    /** Foreign keys that refer to a customer, and what the referring rows are called in the API. */
    private static final Map<String, String> DEPENDENTS = Map.of(
            "customer_note_customer_fk", "notes",
            "credit_transfer_from_fk", "credit transfers",
            "credit_transfer_to_fk", "credit transfers");

    private static final Map<String, ConstraintDescription> BY_NAME = Map.of(
            "customer_email_lower_key", new ConstraintDescription("email",
                    "A customer with this email already exists (emails are compared without case).",
                    "Fetch the existing customer with GET /customers?email=..., or use another email."),
            "customer_status_check", new ConstraintDescription("status",
                    "The status must be ACTIVE, SUSPENDED or CLOSED.", "Send one of ACTIVE, SUSPENDED, CLOSED."),
            "customer_credit_balance_check", new ConstraintDescription("creditBalance",
                    "The credit balance cannot become negative.", "Use a smaller amount, or add credit first."),
            "customer_name_not_blank", new ConstraintDescription("name",
                    "The name must contain at least one visible character.", "Send a non-blank name."));

    /** What blocks deleting a customer, from the foreign key PostgreSQL named ("dependent records" if unknown). */
    static String dependentsNamedBy(String constraint) {
        return constraint == null ? "dependent records" : DEPENDENTS.getOrDefault(constraint, "dependent records");
    }

    @Override
    public Optional<ConstraintDescription> describe(String constraintName) {
        return Optional.ofNullable(BY_NAME.get(constraintName));
    }
}
