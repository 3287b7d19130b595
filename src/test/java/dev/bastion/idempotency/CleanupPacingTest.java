package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * The timer's clean-up in one pod, as the README promises it: a run that outlasts the interval is not
 * joined by a second one, and after a batch the next waits as long as that batch took. A real table
 * lock makes the first batch take seconds: meanwhile the timer fires every second, and still only one
 * clean-up statement waits; once the lock is gone, the rest of the keys are left alone for about as
 * long as the first batch took.
 */
@QuarkusTest
@TestProfile(CleanupPacingTest.EverySecond.class)
@WithTestResource(PostgresResource.class)
class CleanupPacingTest {

    private static final int BATCH = 5;
    private static final String OURS = "SELECT count(*) FROM idempotency_key WHERE operation = 'test.pacing'";
    private static final String CLEANUP_WAITING = "SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion' "
            + "AND wait_event_type = 'Lock' AND query LIKE '%pg_try_advisory_xact_lock%'";

    public static class EverySecond implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.idempotency.cleanup-interval", "1",
                    "bastion.idempotency.cleanup-batch-size", String.valueOf(BATCH));
        }
    }

    @Test
    void aSlowRunIsNeitherJoinedNorFollowedAtOnce() throws Exception {
        long lockHeldFor;
        try (SecondClient migration = new SecondClient()) {
            // the lock first, then the keys in the same transaction: no run can remove them before the lock holds;
            // the oldest of all, so that the first batch takes ours whatever other tests left expired
            migration.execute("LOCK TABLE idempotency_key IN SHARE ROW EXCLUSIVE MODE");
            migration.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT 'test.pacing', 'expired-' || s, repeat('0', 64), 200, now() - interval '100 years' "
                    + "FROM generate_series(1, " + BATCH * 4 + ") s");
            long blockedAt = awaitCleanupWaiting();
            Thread.sleep(3_500); // three more ticks of the timer while the first batch waits
            assertEquals(1, SecondClient.pids(CLEANUP_WAITING).size(), "a second run joined the first");
            lockHeldFor = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - blockedAt);
            migration.commit(); // the lock goes, the keys appear: the waiting batch removes five
        }

        long firstBatchDone = awaitCount(BATCH * 3, 10_000);
        long restStarted = awaitBelow(BATCH * 3, 20_000);
        long pauseMillis = TimeUnit.NANOSECONDS.toMillis(restStarted - firstBatchDone);
        // the first batch took at least as long as the lock was held after it started waiting
        assertTrue(pauseMillis >= lockHeldFor * 2 / 3, "the next batch came " + pauseMillis
                + " ms after a batch that took over " + lockHeldFor + " ms");
        awaitCount(0, 20_000);
    }

    private static long awaitCleanupWaiting() throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < until) {
            if (!SecondClient.pids(CLEANUP_WAITING).isEmpty()) {
                return System.nanoTime();
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no clean-up run ever waited for the table lock");
    }

    /** When our keys are down to {@code count}. */
    private static long awaitCount(long count, long millis) throws Exception {
        return await(millis, "never down to " + count, n -> n == count);
    }

    /** When our keys are fewer than {@code count}. */
    private static long awaitBelow(long count, long millis) throws Exception {
        return await(millis, "never below " + count, n -> n < count);
    }

    private static long await(long millis, String failure, java.util.function.LongPredicate reached) throws Exception {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        List<Long> seen = new java.util.ArrayList<>();
        while (System.nanoTime() < until) {
            long n = SecondClient.queryLong(OURS);
            if (reached.test(n)) {
                return System.nanoTime();
            }
            if (seen.isEmpty() || seen.get(seen.size() - 1) != n) {
                seen.add(n);
            }
            Thread.sleep(10);
        }
        throw new AssertionError(failure + ": counts seen " + seen);
    }
}
