package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;

import dev.bastion.testing.ConfigMappings;
import io.smallrye.config.ConfigValidationException;
import org.junit.jupiter.api.Test;

/** IDEMPOTENCY_TTL is validated the way Quarkus validates it at start-up: a bad value stops the service. */
class IdempotencySettingsTest {

    static IdempotencySettings config(String ttl) {
        return ConfigMappings.read(IdempotencySettings.class, Map.of("bastion.idempotency.ttl", ttl));
    }

    @Test
    void theDefaultsAreValid() {
        IdempotencySettings settings = config("86400");
        assertEquals(Duration.ofSeconds(86400), settings.ttl());
        assertTrue(settings.cleanupBatchSize() > 0 && settings.cleanupMaxBatches() > 0);
    }

    @Test
    void aTtlOfZeroOrLessStopsStartUpWithAMessageNamingTheVariable() {
        for (String ttl : new String[]{"0", "-5"}) {
            ConfigValidationException error = assertThrows(ConfigValidationException.class, () -> config(ttl));
            assertTrue(error.getMessage().contains("IDEMPOTENCY_TTL must be at least 1 second"), error.getMessage());
        }
        assertTrue(assertThrows(ConfigValidationException.class, () -> config("99999999999")).getMessage()
                .contains("IDEMPOTENCY_TTL must be at most"));
    }
}
