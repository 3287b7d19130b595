package dev.bastion.transfer;

import java.math.BigDecimal;

import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Digits;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;

/** Body of POST /customers/transfers: move {@code amount} of credit from one customer to another. */
public record TransferRequest(
        @NotNull @Positive Long from,
        @NotNull @Positive Long to,
        @NotNull @DecimalMin("0.01") @DecimalMax("999999999999.99") @Digits(integer = 12, fraction = 2) BigDecimal amount) {

    @AssertTrue(message = "from and to must be different customers")
    boolean isBetweenTwoCustomers() {
        return from == null || !from.equals(to);
    }
}
