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
import org.junit.jupiter.api.Test;

/**
 * The expired-key cleanup runs on its own timer (nothing in the test calls it) and removes at most
 * its per-run cap (batch size x max batches) each run: a backlog goes down in steps, never at once.
 */
@QuarkusTest
@TestProfile(CleanupTimerTest.EverySecondTwoBatchesOfHundred.class)
@WithTestResource(PostgresResource.class)
class CleanupTimerTest {

    private static final int BATCH = 100;
    private static final int MAX_BATCHES = 2;
    private static final String EXPIRED = "SELECT count(*) FROM idempotency_key WHERE operation = 'test.timer' AND expires_at < now()";

    public static class EverySecondTwoBatchesOfHundred implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("bastion.idempotency.cleanup-interval", "1",
                    "bastion.idempotency.cleanup-batch-size", String.valueOf(BATCH),
                    "bastion.idempotency.cleanup-max-batches", String.valueOf(MAX_BATCHES));
        }
    }

    @Test
    void theTimerRemovesABacklogAtMostOneCapPerRun() throws Exception {
        int backlog = 1000;
        try (SecondClient db = new SecondClient()) {
            db.execute("DELETE FROM idempotency_key WHERE expires_at < now()"); // only this test's keys are expired
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT 'test.timer', 'expired-' || s, repeat('0', 64), 200, now() - interval '1 minute' "
                    + "FROM generate_series(1, " + backlog + ") s");
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT 'test.timer', 'live-' || s, repeat('0', 64), 200, now() + interval '1 hour' FROM generate_series(1, 5) s");
            db.commit();
        }
        // watch the backlog shrink: each step is one run of the timer (a second apart), read far more often
        List<Long> seen = new ArrayList<>(List.of((long) backlog));
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (seen.get(seen.size() - 1) > 0 && System.nanoTime() < until) {
            long now = SecondClient.queryLong(EXPIRED);
            if (now != seen.get(seen.size() - 1)) {
                seen.add(now);
            }
            Thread.sleep(20);
        }
        assertEquals(0L, seen.get(seen.size() - 1), "the timer removed the whole backlog by itself: " + seen);
        for (int i = 1; i < seen.size(); i++) {
            long step = seen.get(i - 1) - seen.get(i);
            assertTrue(step > 0 && step <= (long) BATCH * MAX_BATCHES, "one run removed " + step + ", over its cap: " + seen);
        }
        assertTrue(seen.size() - 1 >= backlog / (BATCH * MAX_BATCHES), "a backlog of " + backlog + " takes several runs: " + seen);
        assertEquals(5, SecondClient.queryLong("SELECT count(*) FROM idempotency_key WHERE operation = 'test.timer' "
                + "AND idempotency_key LIKE 'live-%'"), "keys still alive stay");
    }
}
