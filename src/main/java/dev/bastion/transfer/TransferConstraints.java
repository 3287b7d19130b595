package dev.bastion.transfer;

import java.util.Map;
import java.util.Optional;

import dev.bastion.api.ConstraintDescriptions;
import jakarta.inject.Singleton;

/** What the ledger's named constraints (V3__credit_transfer.sql, V4) mean to an API caller. */
@Singleton
public class TransferConstraints implements ConstraintDescriptions {

    private static final Map<String, ConstraintDescription> BY_NAME = Map.of(
            "credit_transfer_from_fk", new ConstraintDescription("from",
                    "The transfer refers to a customer that does not exist.", "Check the customer ids."),
            "credit_transfer_to_fk", new ConstraintDescription("to",
                    "The transfer refers to a customer that does not exist.", "Check the customer ids."),
            "credit_transfer_amount_positive", new ConstraintDescription("amount",
                    "The amount of a transfer must be positive.", "Send an amount of at least 1."),
            "credit_transfer_distinct_parties", new ConstraintDescription("to",
                    "A transfer needs two different customers.", "Send different ids in from and to."));

    @Override
    public Optional<ConstraintDescription> describe(String constraintName) {
        return Optional.ofNullable(BY_NAME.get(constraintName));
    }
}
