package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.bastion.testing.ConfigMappings;
import org.junit.jupiter.api.Test;

/** Relations between settings that start-up refuses, with a message naming the variables. */
class GuardrailsCheckTest {

    @Test
    void theDefaultsAreConsistent() {
        assertEquals(List.of(), GuardrailsCheck.problems(ConfigMappings.defaults(DatabaseGuardrails.class)));
    }

    @Test
    void contradictorySettingsAreNamedInOneMessage() {
        List<String> problems = GuardrailsCheck.problems(guardrails(Map.of(
                "retry-base-delay", "2", "retry-max-delay", "1.0", "command-timeout", "4000", "session-timeout", "60")));
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("DB_RETRY_MAX_DELAY") && problems.get(0).contains("DB_RETRY_BASE_DELAY"));
        assertTrue(problems.get(1).contains("DB_COMMAND_TIMEOUT") && problems.get(1).contains("DB_SESSION_TIMEOUT"));
    }

    @Test
    void waitsLongerThanTheRequestDeadlineAreRefused() {
        List<String> problems = GuardrailsCheck.problems(guardrails(Map.of(
                "request-timeout", "5", "pool-timeout", "30", "connect-timeout", "10")));
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("DB_POOL_TIMEOUT") && problems.get(0).contains("DB_REQUEST_TIMEOUT"));
        assertTrue(problems.get(1).contains("DB_CONNECT_TIMEOUT") && problems.get(1).contains("DB_REQUEST_TIMEOUT"));
    }

    /** The guardrails with the documented defaults, overridden by {@code values} (bastion.db.* keys). */
    static DatabaseGuardrails guardrails(Map<String, String> values) {
        Map<String, String> properties = new HashMap<>();
        values.forEach((key, value) -> properties.put("bastion.db." + key, value));
        return ConfigMappings.read(DatabaseGuardrails.class, properties);
    }
}
