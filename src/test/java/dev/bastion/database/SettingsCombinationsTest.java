package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import dev.bastion.testing.ConfigMappings;
import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/**
 * Every combination of the DB_* settings is either refused at start-up with a message naming the
 * variables, or works: for each accepted one, a unit of work is built with exactly those settings
 * (its guard, retry policy, admission and row bounds) and runs a statement against the database,
 * through a retry when the backoff is short enough to wait for. Seeded, so a failure repeats.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class SettingsCombinationsTest {

    private static final long SEED = 20261205L;
    private static final int COMBINATIONS = 300;

    /** Each setting's edges (its documented minimum and maximum), typical values, and "unset" (null). */
    private static final Map<String, String[]> VALUES = new LinkedHashMap<>();

    static {
        VALUES.put("request-timeout", new String[] {"0.1", "0.5", "1", "5", "30", "3600"});
        VALUES.put("pool-timeout", new String[] {null, null, "0.001", "1", "5", "30", "3600"});
        VALUES.put("connect-timeout", new String[] {null, null, "0.1", "1", "10", "600"});
        VALUES.put("retry-base-delay", new String[] {"0.001", "0.01", "0.1", "1", "60"});
        VALUES.put("retry-max-delay", new String[] {"0.001", "0.05", "0.5", "5", "600"});
        VALUES.put("retry-deadline", new String[] {"0.01", "0.2", "1", "30", "86400"});
        VALUES.put("max-retries", new String[] {"0", "1", "3", "100"});
        VALUES.put("deadlock-retry-count", new String[] {"0", "5", "100"});
        VALUES.put("pool-size", new String[] {"1", "2", "20", "1000"});
        VALUES.put("max-overflow", new String[] {"0", "30", "1000"});
        VALUES.put("pool-wait-queue", new String[] {"0", "1", "200", "100000"});
        VALUES.put("max-connections-per-row", new String[] {"1", "2", "1000"});
        VALUES.put("command-timeout", new String[] {"0.1", "5", "300", "86400"});
        VALUES.put("session-timeout", new String[] {"1", "60", "1800", "86400"});
        VALUES.put("breaker-failure-ratio", new String[] {"0.01", "0.5", "1"});
        VALUES.put("breaker-request-volume", new String[] {"1", "10", "1000"});
        VALUES.put("breaker-delay", new String[] {"0.01", "5", "3600"});
        VALUES.put("probe-timeout", new String[] {"0.01", "2", "600"});
    }

    @Inject
    TransactionListeners listeners;
    @Inject
    Pool pool;
    @Inject
    Vertx vertx;
    @Inject
    GuardedPoolCreator poolCreator;

    @Test
    void everyAcceptedCombinationRunsAUnitOfWork() {
        Random random = new Random(SEED);
        int accepted = 0;
        int refused = 0;
        for (int i = 0; i < COMBINATIONS; i++) {
            Map<String, String> values = new LinkedHashMap<>();
            VALUES.forEach((key, candidates) -> {
                String value = candidates[random.nextInt(candidates.length)];
                if (value != null) {
                    values.put(key, value);
                }
            });
            DatabaseSettings settings = ConfigMappings.read(DatabaseSettings.class, prefixed(values));
            List<String> problems = new DatabaseSettingsCheck(settings).problems();
            if (!problems.isEmpty()) {
                refused++;
                for (String problem : problems) {
                    assertTrue(problem.startsWith("DB_") || problem.startsWith("BASTION_"), "names the variable: " + problem);
                }
                continue;
            }
            accepted++;
            runsAUnitOfWork(settings, "settings-" + i, values);
        }
        assertTrue(accepted >= 30, "enough accepted combinations to mean something: " + accepted);
        assertTrue(refused >= 30, "and enough refused ones: " + refused);
    }

    @Test
    void loweringOnlyTheDeadlineIsAccepted() {
        DatabaseSettings settings = ConfigMappings.read(DatabaseSettings.class, prefixed(Map.of("request-timeout", "5")));
        assertEquals(List.of(), new DatabaseSettingsCheck(settings).problems());
        assertEquals(Duration.ofSeconds(5), settings.poolTimeout(), "the pool wait is derived from the deadline");
        assertEquals(Duration.ofSeconds(5), settings.connectTimeout(), "and so is the connect timeout");
        RetryPolicy policy = RetryPolicy.of(settings);
        assertTrue(policy.maxDelay().compareTo(policy.window()) < 0, "no backoff as long as the retry window");
        runsAUnitOfWork(settings, "deadline-only", Map.of("request-timeout", "5"));
    }

    private void runsAUnitOfWork(DatabaseSettings settings, String name, Map<String, String> values) {
        UnitOfWork unit = new UnitOfWork(settings, listeners, pool, vertx, poolCreator, name);
        Integer one = unit.runStatement(TransactionSpec.read("settings.check"),
                        connection -> connection.query("SELECT 1").execute().map(rows -> rows.iterator().next().getInteger(0)))
                .await().atMost(Duration.ofSeconds(30));
        assertEquals(1, one, values.toString());
        RetryPolicy policy = RetryPolicy.of(settings);
        if (settings.maxRetries() > 0 && settings.breakerRequestVolume() >= 10 && policy.longestBackoffNanos(0) < 100_000_000L
                && policy.window().compareTo(Duration.ofMillis(500)) >= 0) {
            // a transient failure first: its backoff (RetryPolicy) must fit the window, and the retry must run
            int[] calls = new int[1];
            Integer retried = unit.runStatement(TransactionSpec.read("settings.retry"), connection -> ++calls[0] == 1
                            // a lock not available: transient, retried on DB_MAX_RETRIES, and its connection stays usable
                            ? io.smallrye.mutiny.Uni.createFrom().failure(new io.vertx.pgclient.PgException(
                                    "could not obtain lock on row", "ERROR", "55P03", "test"))
                            : connection.query("SELECT 2").execute().map(rows -> rows.iterator().next().getInteger(0)))
                    .await().atMost(Duration.ofSeconds(30));
            assertEquals(2, retried, values.toString());
            assertTrue(calls[0] >= 2, "retried: " + calls[0]);
        }
        assertFalse(unit.connectionLimit() <= 0);
    }

    private static Map<String, String> prefixed(Map<String, String> values) {
        Map<String, String> out = new LinkedHashMap<>();
        values.forEach((k, v) -> out.put("bastion.db." + k, v));
        return out;
    }
}
