package dev.bastion.idempotency;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;

/**
 * How long keys are remembered and how expired ones are removed. Quarkus validates the constraints
 * at start-up and refuses to start with the message, which names the environment variable.
 */
@ConfigMapping(prefix = "bastion.idempotency")
public interface IdempotencySettings {

    /** Seconds a key is remembered (IDEMPOTENCY_TTL); a key of 0 seconds would protect nothing. */
    @Min(value = 1, message = "IDEMPOTENCY_TTL must be at least 1 second (a key must outlive the request it protects)")
    @Max(value = 31_536_000, message = "IDEMPOTENCY_TTL must be at most 31536000 seconds (one year)")
    @WithDefault("86400")
    long ttl();

    /** Expired keys removed per DELETE: each batch is its own short transaction. */
    @Min(1) @Max(100_000)
    @WithDefault("1000")
    int cleanupBatchSize();

    /** Most batches one cleanup run removes; the rest wait for the next run. */
    @Min(1) @Max(100_000)
    @WithDefault("100")
    int cleanupMaxBatches();

    /** Seconds between cleanup runs on each replica (only one replica runs at a time). */
    @Min(1) @Max(86_400)
    @WithDefault("600")
    int cleanupInterval();
}
