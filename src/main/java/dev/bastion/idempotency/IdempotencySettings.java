package dev.bastion.idempotency;

import java.time.Duration;

import dev.bastion.config.SecondsConverter;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
import io.smallrye.config.WithDefault;

/**
 * How long keys are remembered and how expired ones are removed.
 * {@link IdempotencySettingsCheck} refuses a value out of range at start-up with a message
 * naming the environment variable.
 */
@ConfigMapping(prefix = "bastion.idempotency")
public interface IdempotencySettings {

    /** How long a key is remembered, seconds (IDEMPOTENCY_TTL); a key of 0 seconds would protect nothing. */
    @WithDefault("86400") @WithConverter(SecondsConverter.class)
    Duration ttl();

    /** Expired keys removed per DELETE: each batch is its own short transaction. */
    @WithDefault("1000")
    int cleanupBatchSize();

    /** Most batches one cleanup run removes; a run that leaves expired keys is followed by the next a pause later. */
    @WithDefault("100")
    int cleanupMaxBatches();

    /** Time between cleanup runs on each replica (only one replica runs at a time), seconds. */
    @WithDefault("600") @WithConverter(SecondsConverter.class)
    Duration cleanupInterval();
}
