package dev.bastion.idempotency;

import static java.time.Duration.ofDays;
import static java.time.Duration.ofSeconds;

import dev.bastion.config.CheckedSettings;
import dev.bastion.config.SettingsProblems;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;

/** The idempotency keys' settings: their lifetime and the expired-key cleanup's batches. */
@ApplicationScoped
@Priority(20)
public class IdempotencySettingsCheck implements CheckedSettings {

    private final IdempotencySettings settings;

    public IdempotencySettingsCheck(IdempotencySettings settings) {
        this.settings = settings;
    }

    @Override
    public void check(SettingsProblems p) {
        if (settings.ttl().compareTo(ofSeconds(1)) < 0) {
            p.add("IDEMPOTENCY_TTL must be at least 1 second (a key must outlive the request it protects)");
        }
        if (settings.ttl().compareTo(ofDays(365)) > 0) {
            p.add("IDEMPOTENCY_TTL must be at most 31536000 seconds (one year)");
        }
        p.between("BASTION_IDEMPOTENCY_CLEANUP_BATCH_SIZE", settings.cleanupBatchSize(), 1, 100_000);
        p.between("BASTION_IDEMPOTENCY_CLEANUP_MAX_BATCHES", settings.cleanupMaxBatches(), 1, 100_000);
        p.between("BASTION_IDEMPOTENCY_CLEANUP_INTERVAL", settings.cleanupInterval(), ofSeconds(1), ofDays(1));
    }
}
