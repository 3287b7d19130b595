package dev.bastion.idempotency;

import java.time.Duration;

import dev.bastion.config.SecondsConverter;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import org.hibernate.validator.constraints.time.DurationMax;
import org.hibernate.validator.constraints.time.DurationMin;

/**
 * How long keys are remembered and how expired ones are removed. Quarkus validates the constraints
 * at start-up and refuses to start with the message, which names the environment variable.
 */
@ConfigMapping(prefix = "bastion.idempotency")
public interface IdempotencySettings {

    /** How long a key is remembered, seconds (IDEMPOTENCY_TTL); a key of 0 seconds would protect nothing. */
    @DurationMin(seconds = 1, message = "IDEMPOTENCY_TTL must be at least 1 second (a key must outlive the request it protects)")
    @DurationMax(days = 365, message = "IDEMPOTENCY_TTL must be at most 31536000 seconds (one year)")
    @WithDefault("86400") @WithConverter(SecondsConverter.class)
    Duration ttl();

    /** Expired keys removed per DELETE: each batch is its own short transaction. */
    @Min(1) @Max(100_000)
    @WithDefault("1000")
    int cleanupBatchSize();

    /** Most batches one cleanup run removes; the rest wait for the next run. */
    @Min(1) @Max(100_000)
    @WithDefault("100")
    int cleanupMaxBatches();

    /** Time between cleanup runs on each replica (only one replica runs at a time), seconds. */
    @DurationMin(seconds = 1, message = "BASTION_IDEMPOTENCY_CLEANUP_INTERVAL must be from 1 to 86400 seconds")
    @DurationMax(days = 1, message = "BASTION_IDEMPOTENCY_CLEANUP_INTERVAL must be from 1 to 86400 seconds")
    @WithDefault("600") @WithConverter(SecondsConverter.class)
    Duration cleanupInterval();
}
