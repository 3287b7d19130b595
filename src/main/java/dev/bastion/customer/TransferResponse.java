package dev.bastion.customer;

import java.math.BigDecimal;
import java.time.Instant;

/** A committed transfer and the balances it left. */
public record TransferResponse(Long id, Long from, Long to, BigDecimal amount, BigDecimal fromBalance,
                               BigDecimal toBalance, Instant createdAt) {
}
