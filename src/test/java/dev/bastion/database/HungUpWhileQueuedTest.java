package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.HangingUpClient;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.StuckWriters;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * A caller that hangs up while its request still waits for a connection leaves the queue at once,
 * and its write never runs: nothing was sent, so "nothing saved" is true and its retry is no
 * duplicate. Dead requests left queued ahead of live ones (a crowd whose clients time out and
 * retry) made the admission refuse every live caller for the wait the dead ones stood for.
 */
@QuarkusTest
@TestProfile(HungUpWhileQueuedTest.PoolOfEightLongWaits.class)
@WithTestResource(PostgresResource.class)
class HungUpWhileQueuedTest {

    private static final int HUNG_UP = 20;

    public static class PoolOfEightLongWaits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "8",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.pool-timeout", "15", // queued callers would wait this long: longer than the test looks
                    "bastion.db.request-timeout", "15",
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    @Test
    void aCallerGoneWhileQueuedLeavesTheQueueAndItsWriteNeverRuns() throws Exception {
        String marker = "hungup-" + System.nanoTime();
        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN EXCLUSIVE MODE"); // every create waits for it
            try (StuckWriters writers = StuckWriters.start(6)) { // the write lane's six places, held behind the lock
                awaitWaiting(n -> n == 0 && SecondClient.serviceBackendsWaitingForLocks().size() == 6, "six writers on the lock");
                List<HangingUpClient> callers = new ArrayList<>();
                for (int i = 0; i < HUNG_UP; i++) {
                    callers.add(HangingUpClient.post("/customers",
                            "{\"name\":\"Gone\",\"email\":\"" + marker + "-" + i + "@example.org\"}"));
                }
                awaitWaiting(n -> n == HUNG_UP, HUNG_UP + " callers queued for a connection");
                for (HangingUpClient caller : callers) {
                    caller.close();
                }
                long gone = System.nanoTime();
                awaitWaiting(n -> n == 0, "the callers that hung up left the queue");
                long leftMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - gone);
                assertTrue(leftMillis < 5_000, "left the queue " + leftMillis + " ms after hanging up");
                migration.rollback(); // the writers' creates go through; the hung-up ones must not
            }
        }
        Thread.sleep(500);
        assertEquals(0, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email LIKE '" + marker + "-%'"),
                "a write whose caller hung up while it was queued ran anyway");
        assertEquals(0.0, Http.metric("bastion_db_admission_waiting", Map.of()));
    }

    /** A condition on the count of callers waiting for a connection. */
    private interface WaitingCondition {
        boolean test(int waiting) throws Exception;
    }

    private static void awaitWaiting(WaitingCondition done, String what) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        int waiting = -1;
        while (System.nanoTime() < until) {
            waiting = (int) Http.metric("bastion_db_admission_waiting", Map.of());
            if (done.test(waiting)) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("not reached: " + what + " (waiting for a connection: " + waiting + ")");
    }
}
