package dev.bastion.customer;

import java.util.Map;
import java.util.Optional;

import dev.bastion.api.ConstraintDescriptions;
import jakarta.enterprise.context.ApplicationScoped;

/** What the customer schema's named constraints (V1__customer.sql) mean to an API caller. */
@ApplicationScoped
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
                    "The name must contain at least one visible character.", "Send a non-blank name."),
            "customer_note_customer_fk", new ConstraintDescription("customerId",
                    "The note and the customer it belongs to are out of step.",
                    "Check that the customer exists and has no notes left before deleting it."),
            "credit_transfer_from_fk", new ConstraintDescription("from",
                    "The transfer refers to a customer that does not exist.", "Check the customer ids."),
            "credit_transfer_to_fk", new ConstraintDescription("to",
                    "The transfer refers to a customer that does not exist.", "Check the customer ids."));

    /** What blocks deleting a customer, from the foreign key PostgreSQL named ("dependent records" if unknown). */
    static String dependentsNamedBy(String constraint) {
        return constraint == null ? "dependent records" : DEPENDENTS.getOrDefault(constraint, "dependent records");
    }

    @Override
    public Optional<ConstraintDescription> describe(String constraintName) {
        return Optional.ofNullable(BY_NAME.get(constraintName));
    }
}
