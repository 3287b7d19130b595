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

    /**
     * Expired keys removed per DELETE: each batch is its own short transaction. Small, with
     * {@link #cleanupMaxBatches()}, because what other requests feel is the deleting itself, about in proportion
     * to the keys removed a second: at 10 million keys, reads at full load on two cores had a p99 1.3x to 1.5x
     * their own while 7,800 to 25,000 keys a second went (batches of 1,000 or 100), 1.06x to 1.23x at 3,000
     * (docs/benchmarks.md, "Cost as the data grows").
     */
    @WithDefault("100")
    int cleanupBatchSize();

    /**
     * Most batches one cleanup run removes; a run that leaves expired keys is followed by the next a pause later
     * (as long as it took, at least a second). Runs of 3,000 keys hold the clean-up to at most 3,000 keys a
     * second however fast the database is: a faster database let runs of 10,000 go at 7,800 a second.
     */
    @WithDefault("30")
    int cleanupMaxBatches();

    /** Time between cleanup runs on each replica (only one replica runs at a time), seconds. */
    @WithDefault("600") @WithConverter(SecondsConverter.class)
    Duration cleanupInterval();
}
