package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** Relations between settings that start-up refuses, with a message naming the variables. */
class GuardrailsCheckTest {

    @Test
    void theDefaultsAreConsistent() {
        assertEquals(List.of(), GuardrailsCheck.problems(guardrails(Map.of())));
    }

    @Test
    void contradictorySettingsAreNamedInOneMessage() {
        List<String> problems = GuardrailsCheck.problems(guardrails(Map.of(
                "retryBaseDelay", 2.0, "retryMaxDelay", 1.0, "commandTimeout", 4000.0, "sessionTimeout", 60.0)));
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("DB_RETRY_MAX_DELAY") && problems.get(0).contains("DB_RETRY_BASE_DELAY"));
        assertTrue(problems.get(1).contains("DB_COMMAND_TIMEOUT") && problems.get(1).contains("DB_SESSION_TIMEOUT"));
    }

    @Test
    void waitsLongerThanTheRequestDeadlineAreRefused() {
        List<String> problems = GuardrailsCheck.problems(guardrails(Map.of(
                "requestTimeout", 5.0, "poolTimeout", 30.0, "connectTimeout", 10.0)));
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("DB_POOL_TIMEOUT") && problems.get(0).contains("DB_REQUEST_TIMEOUT"));
        assertTrue(problems.get(1).contains("DB_CONNECT_TIMEOUT") && problems.get(1).contains("DB_REQUEST_TIMEOUT"));
    }

    /** The guardrails with the documented defaults, overridden by {@code values}. */
    static DatabaseGuardrails guardrails(Map<String, Object> values) {
        Map<String, Object> defaults = Map.of("retryBaseDelay", 0.1, "retryMaxDelay", 5.0, "retryDeadline", 30.0,
                "commandTimeout", 300.0, "sessionTimeout", 1800.0, "poolTimeout", 30.0, "connectTimeout", 10.0,
                "requestTimeout", 30.0);
        return (DatabaseGuardrails) Proxy.newProxyInstance(DatabaseGuardrails.class.getClassLoader(),
                new Class<?>[]{DatabaseGuardrails.class}, (proxy, method, args) -> {
                    Object value = values.getOrDefault(method.getName(), defaults.get(method.getName()));
                    if (value == null) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    return value;
                });
    }
}
