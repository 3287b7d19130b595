package dev.bastion.customer;

import java.math.BigDecimal;

import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Digits;
import jakarta.validation.constraints.NotNull;

/**
 * Body of POST /customers/{id}/credit-adjustments: adds {@code amount} (negative to debit). Whether
 * the balance may go below zero is decided by PostgreSQL's check constraint, atomically.
 */
public record CreditAdjustmentRequest(
        @NotNull @DecimalMin("-999999999999.99") @DecimalMax("999999999999.99") @Digits(integer = 12, fraction = 2)
        BigDecimal amount) {
}
