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
        KeyBacklog backlogOf = new KeyBacklog("test.catch-up");
        backlogOf.seed(backlog, 5);
        long started = System.nanoTime();
        keys.cleanUntilCaughtUp(); // what the hourly timer does when it fires: nothing else starts a run here

        List<Long> seen = backlogOf.watch(backlog, started + TimeUnit.SECONDS.toNanos(30));
        // before: one run of 200, the rest left for the next hour
        assertEquals(0L, seen.get(seen.size() - 1), "the backlog worked off without waiting for the interval: " + seen);
        KeyBacklog.assertEachRunWithin(seen, (long) BATCH * MAX_BATCHES);
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertTrue(tookMillis >= (backlog / (BATCH * MAX_BATCHES) - 1) * IdempotencyKeys.FOLLOW_UP_MILLIS,
                "runs a pause apart, not back to back: " + tookMillis + " ms");
        assertEquals(5, backlogOf.live(), "keys still alive stay");
    }
}
