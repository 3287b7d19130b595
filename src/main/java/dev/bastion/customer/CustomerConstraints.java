package dev.bastion.customer;

import java.util.Map;
import java.util.Optional;

import dev.bastion.api.ConstraintDescriptions;
import jakarta.enterprise.context.ApplicationScoped;

/** What the customer schema's named constraints (V1__customer.sql) mean to an API caller. */
@ApplicationScoped
public class CustomerConstraints implements ConstraintDescriptions {

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
                    "Check that the customer exists and has no notes left before deleting it."));

    @Override
    public Optional<ConstraintDescription> describe(String constraintName) {
        return Optional.ofNullable(BY_NAME.get(constraintName));
    }
}
