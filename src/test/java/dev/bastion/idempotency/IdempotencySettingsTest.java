package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import dev.bastion.testing.ConfigMappings;
import org.junit.jupiter.api.Test;

/** IDEMPOTENCY_TTL is checked as at start-up ({@link SettingsCheck}): a bad value stops the service. */
class IdempotencySettingsTest {

    static IdempotencySettings config(String ttl) {
        return ConfigMappings.read(IdempotencySettings.class, Map.of("bastion.idempotency.ttl", ttl));
    }

    @Test
    void theDefaultsAreValid() {
        IdempotencySettings settings = config("86400");
        assertEquals(List.of(), new IdempotencySettingsCheck(settings).problems());
        assertEquals(Duration.ofSeconds(86400), settings.ttl());
        assertTrue(settings.cleanupBatchSize() > 0 && settings.cleanupMaxBatches() > 0);
    }

    @Test
    void aTtlOfZeroOrLessStopsStartUpWithAMessageNamingTheVariable() {
        for (String ttl : new String[]{"0", "-5"}) {
            assertEquals(List.of("IDEMPOTENCY_TTL must be at least 1 second (a key must outlive the request it protects)"),
                    new IdempotencySettingsCheck(config(ttl)).problems(), ttl);
        }
        assertEquals(List.of("IDEMPOTENCY_TTL must be at most 31536000 seconds (one year)"),
                new IdempotencySettingsCheck(config("99999999999")).problems());
    }
}
