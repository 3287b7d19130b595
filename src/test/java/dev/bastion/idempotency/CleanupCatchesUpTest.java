package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/**
 * More expired keys than one run may remove are worked off by runs that follow each other about a
 * second apart, not one run per interval: with keyed writes above one cap per interval (about 166 a
 * second with the defaults) the table grew without bound.
 */
@QuarkusTest
@TestProfile(CleanupCatchesUpTest.HourlyTwoBatchesOfHundred.class)
@WithTestResource(PostgresResource.class)
class CleanupCatchesUpTest {

    private static final int BATCH = 100;
    private static final int MAX_BATCHES = 2;
    private static final String EXPIRED = "SELECT count(*) FROM idempotency_key WHERE operation = 'test.catch-up' AND expires_at < now()";

    public static class HourlyTwoBatchesOfHundred implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("bastion.idempotency.cleanup-interval", "3600",
                    "bastion.idempotency.cleanup-batch-size", String.valueOf(BATCH),
                    "bastion.idempotency.cleanup-max-batches", String.valueOf(MAX_BATCHES));
        }
    }

    @Inject
    IdempotencyKeys keys;

    @Test
    void aBacklogBeyondOneRunsCapIsWorkedOffByRunsThatFollowWithinSeconds() throws Exception {
        int backlog = 1000;
        try (SecondClient db = new SecondClient()) {
            db.execute("DELETE FROM idempotency_key WHERE expires_at < now()"); // only this test's keys are expired
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT 'test.catch-up', 'expired-' || s, repeat('0', 64), 200, now() - interval '1 minute' "
                    + "FROM generate_series(1, " + backlog + ") s");
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT 'test.catch-up', 'live-' || s, repeat('0', 64), 200, now() + interval '1 hour' "
                    + "FROM generate_series(1, 5) s");
            db.commit();
        }
        long started = System.nanoTime();
        keys.cleanUntilCaughtUp(); // what the hourly timer does when it fires: nothing else starts a run here

        List<Long> seen = new ArrayList<>(List.of((long) backlog));
        long until = started + TimeUnit.SECONDS.toNanos(30);
        while (seen.get(seen.size() - 1) > 0 && System.nanoTime() < until) {
            long now = SecondClient.queryLong(EXPIRED);
            if (now != seen.get(seen.size() - 1)) {
                seen.add(now);
            }
            Thread.sleep(20);
        }
        // before: one run of 200, the rest left for the next hour
        assertEquals(0L, seen.get(seen.size() - 1), "the backlog worked off without waiting for the interval: " + seen);
        for (int i = 1; i < seen.size(); i++) {
            long step = seen.get(i - 1) - seen.get(i);
            assertTrue(step > 0 && step <= (long) BATCH * MAX_BATCHES, "one run removed " + step + ", over its cap: " + seen);
        }
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertTrue(tookMillis >= (backlog / (BATCH * MAX_BATCHES) - 1) * IdempotencyKeys.FOLLOW_UP_MILLIS,
                "runs a pause apart, not back to back: " + tookMillis + " ms");
        assertEquals(5, SecondClient.queryLong("SELECT count(*) FROM idempotency_key WHERE operation = 'test.catch-up' "
                + "AND idempotency_key LIKE 'live-%'"), "keys still alive stay");
    }
}
