package dev.bastion.transfer;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.math.BigDecimal;
import java.time.Instant;

/** A committed transfer and the balances it left. */
@RegisterForReflection // serialised to JSON inside a generic or untyped response
public record TransferResponse(Long id, Long from, Long to, BigDecimal amount, BigDecimal fromBalance,
                               BigDecimal toBalance, Instant createdAt) {
}
