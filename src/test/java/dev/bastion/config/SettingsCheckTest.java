package dev.bastion.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.DatabaseSettingsCheck;
import dev.bastion.idempotency.IdempotencySettings;
import dev.bastion.idempotency.IdempotencySettingsCheck;
import dev.bastion.logging.LogSettings;
import dev.bastion.logging.LogSettingsCheck;
import dev.bastion.testing.ConfigMappings;
import org.junit.jupiter.api.Test;

/**
 * Start-up refuses every setting out of its range and every contradictory combination, with one
 * message naming the variables.
 */
class SettingsCheckTest {

    @Test
    void theDefaultsAreValid() {
        assertEquals(List.of(), problemsWith(Map.of()));
        assertDoesNotThrow(() -> check(Map.of()).refuseInvalid());
    }

    @Test
    void oneMessageNamesEveryBadVariable() {
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> check(Map.of(
                "bastion.db.pool-size", "0", "bastion.db.pool-timeout", "0", "bastion.idempotency.ttl", "0",
                "bastion.log.incident-window", "0")).refuseInvalid());
        assertEquals("Invalid configuration: DB_POOL_SIZE must be from 1 to 1000; "
                + "DB_POOL_TIMEOUT must be from 0.001 to 3600 seconds; "
                + "IDEMPOTENCY_TTL must be at least 1 second (a key must outlive the request it protects); "
                + "BASTION_LOG_INCIDENT_WINDOW must be at least 0.001 seconds", refused.getMessage());
    }

    @Test
    void contradictorySettingsAreNamedInOneMessage() {
        List<String> problems = new DatabaseSettingsCheck(guardrails(Map.of(
                "retry-base-delay", "2", "retry-max-delay", "1.0", "command-timeout", "4000", "session-timeout", "60"))).problems();
        assertEquals(List.of("DB_RETRY_MAX_DELAY (1s) must not be below DB_RETRY_BASE_DELAY (2s)",
                "DB_COMMAND_TIMEOUT (4000s) must not exceed DB_SESSION_TIMEOUT (60s)"), problems);
    }

    @Test
    void waitsLongerThanTheRequestDeadlineAreRefused() {
        List<String> problems = new DatabaseSettingsCheck(guardrails(Map.of(
                "request-timeout", "5", "pool-timeout", "30", "connect-timeout", "10"))).problems();
        assertEquals(List.of(
                "DB_POOL_TIMEOUT (30s) must not exceed DB_REQUEST_TIMEOUT (5s): a request would give up before its pool wait "
                        + "ends (leave DB_POOL_TIMEOUT unset to derive it)",
                "DB_CONNECT_TIMEOUT (10s) must not exceed DB_REQUEST_TIMEOUT (5s) (leave DB_CONNECT_TIMEOUT unset to derive it)"),
                problems);
        assertEquals(List.of("DB_RETRY_DEADLINE (0.05s) must not be below DB_RETRY_BASE_DELAY (0.1s)"),
                new DatabaseSettingsCheck(guardrails(Map.of("retry-deadline", "0.05"))).problems());
    }

    /**
     * Every range, bounds included: a bound itself passes, a nanosecond (or one) beyond it is refused
     * with the message naming the variable. Null where a range has no such bound.
     */
    @Test
    void everyValueIsRefusedJustBeyondItsBoundsAndAcceptedAtThem() {
        List<Range> ranges = List.of(
                new Range("bastion.db.pool-size", "0", "1", "1000", "1001", "DB_POOL_SIZE must be from 1 to 1000"),
                new Range("bastion.db.max-overflow", "-1", "0", "1000", "1001", "DB_MAX_OVERFLOW must be from 0 to 1000"),
                new Range("bastion.db.pool-timeout", "0.000999999", "0.001", "3600", "3600.000000001",
                        "DB_POOL_TIMEOUT must be from 0.001 to 3600 seconds"),
                new Range("bastion.db.pool-wait-queue", "-1", "0", "100000", "100001",
                        "DB_POOL_WAIT_QUEUE must be from 0 to 100000"),
                new Range("bastion.db.pool-recycle", "0.999999999", "1", null, null, "DB_POOL_RECYCLE must be at least 1 second"),
                new Range("bastion.db.pool-idle-timeout", "0.999999999", "1", null, null,
                        "DB_POOL_IDLE_TIMEOUT must be at least 1 second"),
                new Range("bastion.db.connect-timeout", "0.099999999", "0.1", "600", "600.000000001",
                        "DB_CONNECT_TIMEOUT must be from 0.1 to 600 seconds"),
                new Range("bastion.db.command-timeout", "0.099999999", "0.1", null, null,
                        "DB_COMMAND_TIMEOUT must be at least 0.1 seconds"),
                new Range("bastion.db.request-timeout", "0.099999999", "0.1", "3600", "3600.000000001",
                        "DB_REQUEST_TIMEOUT must be from 0.1 to 3600 seconds"),
                new Range("bastion.db.tcp-keepalive-idle", "0", "1", "7200", "7201", "DB_TCP_KEEPALIVE_IDLE must be from 1 to 7200"),
                new Range("bastion.db.tcp-keepalive-interval", "0", "1", "600", "601",
                        "DB_TCP_KEEPALIVE_INTERVAL must be from 1 to 600"),
                new Range("bastion.db.tcp-keepalive-count", "0", "1", "100", "101", "DB_TCP_KEEPALIVE_COUNT must be from 1 to 100"),
                new Range("bastion.db.tcp-user-timeout", "0.999999999", "1", "3600", "3600.000000001",
                        "DB_TCP_USER_TIMEOUT must be from 1 to 3600 seconds"),
                new Range("bastion.db.session-timeout", "0.999999999", "1", null, null,
                        "DB_SESSION_TIMEOUT must be at least 1 second"),
                new Range("bastion.db.max-retries", "-1", "0", "100", "101", "DB_MAX_RETRIES must be from 0 to 100"),
                new Range("bastion.db.deadlock-retry-count", "-1", "0", "100", "101",
                        "DB_DEADLOCK_RETRY_COUNT must be from 0 to 100"),
                new Range("bastion.db.retry-base-delay", "0.000999999", "0.001", "60", "60.000000001",
                        "DB_RETRY_BASE_DELAY must be from 0.001 to 60 seconds"),
                new Range("bastion.db.retry-max-delay", "0.000999999", "0.001", "600", "600.000000001",
                        "DB_RETRY_MAX_DELAY must be from 0.001 to 600 seconds"),
                new Range("bastion.db.retry-deadline", "0.009999999", "0.01", null, null,
                        "DB_RETRY_DEADLINE must be at least 0.01 seconds"),
                new Range("bastion.db.leak-threshold", "0.009999999", "0.01", null, null,
                        "DB_LEAK_THRESHOLD must be at least 0.01 seconds"),
                new Range("bastion.db.breaker-failure-ratio", "0.0099", "0.01", "1", "1.0001",
                        "DB_BREAKER_FAILURE_RATIO must be from 0.01 to 1"),
                new Range("bastion.db.breaker-failure-ratio", "NaN", null, null, null,
                        "DB_BREAKER_FAILURE_RATIO must be from 0.01 to 1"),
                new Range("bastion.db.breaker-request-volume", "0", "1", null, null, "DB_BREAKER_REQUEST_VOLUME must be at least 1"),
                new Range("bastion.db.breaker-delay", "0.009999999", "0.01", null, null,
                        "DB_BREAKER_DELAY must be at least 0.01 seconds"),
                new Range("bastion.db.probe-timeout", "0.009999999", "0.01", "600", "600.000000001",
                        "BASTION_DB_PROBE_TIMEOUT must be from 0.01 to 600 seconds"),
                new Range("bastion.db.slow-threshold", "0.000999999", "0.001", null, null,
                        "BASTION_DB_SLOW_THRESHOLD must be at least 0.001 seconds"),
                new Range("bastion.idempotency.ttl", "0.999999999", "1", null, null,
                        "IDEMPOTENCY_TTL must be at least 1 second (a key must outlive the request it protects)"),
                new Range("bastion.idempotency.ttl", null, null, "31536000", "31536000.000000001",
                        "IDEMPOTENCY_TTL must be at most 31536000 seconds (one year)"),
                new Range("bastion.idempotency.cleanup-batch-size", "0", "1", "100000", "100001",
                        "BASTION_IDEMPOTENCY_CLEANUP_BATCH_SIZE must be from 1 to 100000"),
                new Range("bastion.idempotency.cleanup-max-batches", "0", "1", "100000", "100001",
                        "BASTION_IDEMPOTENCY_CLEANUP_MAX_BATCHES must be from 1 to 100000"),
                new Range("bastion.idempotency.cleanup-interval", "0.999999999", "1", "86400", "86400.000000001",
                        "BASTION_IDEMPOTENCY_CLEANUP_INTERVAL must be from 1 to 86400 seconds"),
                new Range("bastion.log.incident-window", "0.000999999", "0.001", null, null,
                        "BASTION_LOG_INCIDENT_WINDOW must be at least 0.001 seconds"));
        for (Range range : ranges) {
            refused(range, range.belowLowest());
            accepted(range, range.lowest());
            accepted(range, range.highest());
            refused(range, range.aboveHighest());
        }
    }

    private record Range(String key, String belowLowest, String lowest, String highest, String aboveHighest,
            String message) {
    }

    private static void refused(Range range, String value) {
        if (value != null) {
            List<String> problems = problemsWith(Map.of(range.key(), value));
            assertTrue(problems.contains(range.message()), range.key() + "=" + value + ": " + problems);
        }
    }

    private static void accepted(Range range, String value) {
        if (value != null) {
            List<String> problems = problemsWith(Map.of(range.key(), value));
            assertFalse(problems.contains(range.message()), range.key() + "=" + value + ": " + problems);
        }
    }

    /** Every problem with the documented defaults overridden by {@code values} (full keys of any mapping). */
    private static List<String> problemsWith(Map<String, String> values) {
        return SettingsCheck.problems(checks(values));
    }

    private static SettingsCheck check(Map<String, String> values) {
        return new SettingsCheck(checks(values));
    }

    /** Every feature's check, in the order of their beans' priority. */
    private static List<CheckedSettings> checks(Map<String, String> values) {
        return List.of(new DatabaseSettingsCheck(ConfigMappings.read(DatabaseSettings.class, values)),
                new IdempotencySettingsCheck(ConfigMappings.read(IdempotencySettings.class, values)),
                new LogSettingsCheck(ConfigMappings.read(LogSettings.class, values)));
    }

    /** The guardrails with the documented defaults, overridden by {@code values} (bastion.db.* keys). */
    private static DatabaseSettings guardrails(Map<String, String> values) {
        Map<String, String> properties = new HashMap<>();
        values.forEach((key, value) -> properties.put("bastion.db." + key, value));
        return ConfigMappings.read(DatabaseSettings.class, properties);
    }
}
