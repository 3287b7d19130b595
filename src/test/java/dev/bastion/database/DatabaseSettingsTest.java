package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import dev.bastion.config.SettingsCheck;
import dev.bastion.idempotency.IdempotencySettings;
import dev.bastion.idempotency.IdempotencySettingsCheck;
import dev.bastion.logging.LogSettings;
import dev.bastion.logging.LogSettingsCheck;
import dev.bastion.testing.ConfigMappings;
import io.smallrye.config.ConfigValidationException;
import org.junit.jupiter.api.Test;

/**
 * The DB_* durations read as operators write them, and a value out of range stops start-up naming
 * it (every range, bound by bound: {@code SettingsCheckTest}).
 */
class DatabaseSettingsTest {

    @Test
    void theDocumentedDefaultsAreDurations() {
        DatabaseSettings defaults = ConfigMappings.defaults(DatabaseSettings.class);
        assertEquals(Duration.ofMillis(100), defaults.retryBaseDelay());
        assertEquals(Duration.ofSeconds(5), defaults.retryMaxDelay());
        assertEquals(Duration.ofSeconds(30), defaults.requestTimeout());
        assertEquals(Duration.ofMinutes(30), defaults.sessionTimeout());
        assertEquals(Duration.ofSeconds(2), defaults.probeTimeout());
        assertEquals(Duration.ofSeconds(1), defaults.slowThreshold());
        assertEquals(Duration.ofSeconds(60), ConfigMappings.defaults(LogSettings.class).incidentWindow());
    }

    @Test
    void secondsWithAFractionAreMilliseconds() {
        DatabaseSettings guardrails = ConfigMappings.read(DatabaseSettings.class, Map.of(
                "bastion.db.retry-base-delay", "0.25", "bastion.db.probe-timeout", "0.5",
                "bastion.db.slow-threshold", "0.2"));
        assertEquals(Duration.ofMillis(250), guardrails.retryBaseDelay());
        assertEquals(Duration.ofMillis(500), guardrails.probeTimeout());
        assertEquals(Duration.ofMillis(200), guardrails.slowThreshold());
    }

    @Test
    void aValueOutOfItsRangeStopsStartUpNamingTheVariable() {
        Map<String, String> expected = Map.of(
                "bastion.db.pool-timeout", "DB_POOL_TIMEOUT must be from 0.001 to 3600 seconds",
                "bastion.db.connect-timeout", "DB_CONNECT_TIMEOUT must be from 0.1 to 600 seconds",
                "bastion.db.retry-base-delay", "DB_RETRY_BASE_DELAY must be from 0.001 to 60 seconds",
                "bastion.db.session-timeout", "DB_SESSION_TIMEOUT must be at least 1 second",
                "bastion.db.probe-timeout", "BASTION_DB_PROBE_TIMEOUT must be from 0.01 to 600 seconds");
        expected.forEach((key, message) -> {
            for (String value : new String[]{"0", "-1", "100000"}) {
                if (value.equals("100000") && message.contains("at least")) {
                    continue; // no upper bound
                }
                List<String> problems = new DatabaseSettingsCheck(ConfigMappings.read(DatabaseSettings.class, Map.of(key, value))).problems();
                assertTrue(problems.contains(message), key + "=" + value + ": " + problems);
            }
        });
        assertEquals(List.of("BASTION_LOG_INCIDENT_WINDOW must be at least 0.001 seconds"),
                new LogSettingsCheck(ConfigMappings.read(LogSettings.class, Map.of("bastion.log.incident-window", "0"))).problems());
    }

    /** Hibernate Reactive builds the pool before StartupEvent: the pool creator refuses first, building nothing. */
    @Test
    void aValueOutOfItsRangeStopsThePoolBeforeItIsBuilt() {
        DatabaseSettings guardrails = ConfigMappings.read(DatabaseSettings.class, Map.of("bastion.db.pool-timeout", "0"));
        GuardedPoolCreator creator = new GuardedPoolCreator(guardrails, new SettingsCheck(List.of(
                new DatabaseSettingsCheck(guardrails), new IdempotencySettingsCheck(ConfigMappings.defaults(IdempotencySettings.class)),
                new LogSettingsCheck(ConfigMappings.defaults(LogSettings.class)))),
                new UnreplicatedCommits());
        // no pool input at all: refusing must come before anything is read from it
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> creator.create(null));
        assertEquals("Invalid configuration: DB_POOL_TIMEOUT must be from 0.001 to 3600 seconds", refused.getMessage());
        assertTrue(creator.connectOptions().isEmpty());
        assertTrue(creator.openConnections().isEmpty());
    }

    @Test
    void aValueThatIsNoDurationStopsStartUpNamingTheKey() {
        ConfigValidationException error = assertThrows(ConfigValidationException.class,
                () -> ConfigMappings.read(DatabaseSettings.class, Map.of("bastion.db.pool-timeout", "thirty")));
        assertTrue(error.getMessage().contains("bastion.db.pool-timeout")
                && error.getMessage().contains("\"thirty\" is not a duration"), error.getMessage());
    }
}
