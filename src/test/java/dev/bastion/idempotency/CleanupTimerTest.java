package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.PostgresResource;
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
        KeyBacklog keys = new KeyBacklog("test.timer");
        keys.seed(backlog, 5);
        // each step is one run of the timer (a second apart)
        List<Long> seen = keys.watch(backlog, System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
        assertEquals(0L, seen.get(seen.size() - 1), "the timer removed the whole backlog by itself: " + seen);
        KeyBacklog.assertEachRunWithin(seen, (long) BATCH * MAX_BATCHES);
        assertTrue(seen.size() - 1 >= backlog / (BATCH * MAX_BATCHES), "a backlog of " + backlog + " takes several runs: " + seen);
        assertEquals(5, keys.live(), "keys still alive stay");
    }
}
