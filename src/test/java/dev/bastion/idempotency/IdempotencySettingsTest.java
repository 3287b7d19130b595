package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import io.smallrye.config.ConfigValidationException;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import io.smallrye.config.validator.BeanValidationConfigValidator;
import jakarta.validation.Validation;
import jakarta.validation.Validator;
import org.hibernate.validator.messageinterpolation.ParameterMessageInterpolator;
import org.junit.jupiter.api.Test;

/** IDEMPOTENCY_TTL is validated the way Quarkus validates it at start-up: a bad value stops the service. */
class IdempotencySettingsTest {

    private static final Validator VALIDATOR = Validation.byDefaultProvider().configure()
            .messageInterpolator(new ParameterMessageInterpolator()).buildValidatorFactory().getValidator();

    static SmallRyeConfig config(String ttl) {
        return new SmallRyeConfigBuilder()
                .withMapping(IdempotencySettings.class)
                .withValidator((BeanValidationConfigValidator) () -> VALIDATOR)
                .withSources(new PropertiesConfigSource(Map.of("bastion.idempotency.ttl", ttl), "test", 100))
                .build();
    }

    @Test
    void theDefaultsAreValid() {
        IdempotencySettings settings = config("86400").getConfigMapping(IdempotencySettings.class);
        assertEquals(86400, settings.ttl());
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
