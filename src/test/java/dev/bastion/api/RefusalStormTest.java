package dev.bastion.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.Await;
import dev.bastion.testing.Customers;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.StuckWriters;
import dev.bastion.testing.TimedRequests;
import dev.bastion.testing.TimedRequests.Answer;
import dev.bastion.testing.Transfers;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * A storm of refusals is answered slowly, a single refusal at once ({@link RefusalHold}): a crowd
 * that retries the moment it is refused would otherwise keep the event loops busy refusing, while
 * the database's replies wait behind it. The pool here is full for real: four creates wait on a
 * table lock another session holds, two more wait for a connection, and the queue's cap is two.
 */
@QuarkusTest
@TestProfile(RefusalStormTest.FullQueueOfTwo.class)
@WithTestResource(PostgresResource.class)
class RefusalStormTest {

    static final int STORM = 80;

    public static class FullQueueOfTwo implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "4",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.pool-wait-queue", "2",
                    "bastion.db.pool-timeout", "30", // the queued two wait for as long as the test holds the lock
                    "bastion.db.request-timeout", "30",
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    @Test
    void aStormOfRefusalsIsHeldASingleOneIsNot() throws Exception {
        String marker = "storm-" + System.nanoTime();
        List<Answer> storm;
        double heldBefore;
        double timedBefore;
        double secondsBefore;
        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN EXCLUSIVE MODE");
            try (StuckWriters writers = StuckWriters.start(4)) { // the pool's four places, held behind the lock
                Await.until(() -> SecondClient.serviceBackendsWaitingForLocks().size() == 4, "four writers on the lock");
                List<CompletableFuture<Answer>> queued = List.of(TimedRequests.create(marker + "-queued-0"), TimedRequests.create(marker + "-queued-1"));
                Await.until(() -> Http.metric("bastion_db_admission_waiting", Map.of()) == 2, "two creates queued");
                Thread.sleep(2 * RefusalHold.WINDOW_MILLIS); // no refusal in the current window

                heldBefore = Http.metric("bastion_http_refusals_held_total", Map.of());
                timedBefore = Http.metric("http_server_requests_seconds_count", REFUSED_CREATE);
                secondsBefore = Http.metric("http_server_requests_seconds_sum", REFUSED_CREATE);
                Answer single = TimedRequests.create(marker + "-single").join();
                assertRefused(single);
                assertEquals(heldBefore, Http.metric("bastion_http_refusals_held_total", Map.of()), "a single refusal was held");

                // the storm opens a window of its own: one that began with the single refusal would leave it one at-once answer fewer
                Thread.sleep(2 * RefusalHold.WINDOW_MILLIS);
                int[] sent = new int[1];
                storm = stormUntilHeld(heldBefore, () -> TimedRequests.create(marker + "-storm-" + sent[0]++));
                migration.rollback(); // the stuck and the queued creates go through now
                for (CompletableFuture<Answer> q : queued) {
                    assertEquals(201, q.get(30, TimeUnit.SECONDS).status(), "a queued create was not served after the lock");
                }
            }
        }
        storm.forEach(RefusalStormTest::assertRefused);
        long held = storm.stream().filter(a -> a.millis() >= 950).count();
        double counted = Http.metric("bastion_http_refusals_held_total", Map.of()) - heldBefore;
        assertTrue(counted >= STORM / 3, "held: " + counted + " of " + storm.size());
        // the first of each window are answered at once, by the service's own count (a client's clock on a
        // loaded machine cannot tell an answer sent at once from one held)
        assertTrue(storm.size() - counted >= RefusalHold.AT_ONCE_PER_WINDOW, "answered at once: "
                + (storm.size() - counted) + " of " + storm.size());
        assertTrue(held >= counted, counted + " held, but only " + held + " answers took a second or more");
        long longest = storm.stream().mapToLong(a -> a.millis()).max().orElseThrow();
        assertTrue(longest < 5_000, "a refusal was held for " + longest + " ms (at most 2 s)");
        assertEquals(0, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email LIKE '" + marker + "-s%'"),
                "a refused create wrote a row");
        assertEquals(2, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email LIKE '" + marker + "-queued-%'"));
        // every refusal is timed in http_server_requests, from its arrival to its answer, its hold included
        Await.until(() -> Http.metric("http_server_requests_seconds_count", REFUSED_CREATE) - timedBefore == storm.size() + 1,
                "every refusal (" + (storm.size() + 1) + ") counted once in http_server_requests");
        double timedSeconds = Http.metric("http_server_requests_seconds_sum", REFUSED_CREATE) - secondsBefore;
        assertTrue(timedSeconds >= 0.9 * held, held + " refusals held a second or more, but only " + timedSeconds + " s timed");
    }

    private static final Map<String, String> REFUSED_CREATE = Map.of("method", "POST", "status", "503");

    /** Refusals of the unit of work (a row's queue full), answered by the exception mapper, are held the same way. */
    @Test
    void aStormOfRefusalsForAHeldRowIsHeldToo() throws Exception {
        long hot = Customers.createCustomer(Customers.uniqueEmail(), "1000");
        long other = Customers.createCustomer(Customers.uniqueEmail());
        List<Answer> storm;
        double heldBefore;
        try (SecondClient session = new SecondClient()) {
            session.execute("SELECT 1 FROM customer WHERE id = " + hot + " FOR UPDATE");
            // the row's two turns wait on its lock, two more transfers fill its queue of two
            List<CompletableFuture<Answer>> waiting = new ArrayList<>();
            waiting.add(transfer(hot, other));
            waiting.add(transfer(hot, other));
            Await.until(() -> SecondClient.serviceBackendsWaitingForLocks().size() == 2, "two transfers on the row lock");
            waiting.add(transfer(hot, other));
            waiting.add(transfer(hot, other));
            Await.until(() -> Http.metric("bastion_db_row_waiting", Map.of()) == 2, "two transfers queued for the row");
            Thread.sleep(2 * RefusalHold.WINDOW_MILLIS); // no refusal in the current window

            heldBefore = Http.metric("bastion_http_refusals_held_total", Map.of());
            storm = stormUntilHeld(heldBefore, () -> transfer(hot, other));
            session.rollback();
            for (CompletableFuture<Answer> w : waiting) {
                assertEquals(200, w.get(30, TimeUnit.SECONDS).status(), "a transfer waiting for the row was not served");
            }
        }
        for (Answer answer : storm) {
            assertEquals(503, answer.status(), answer.body());
            assertTrue(answer.body().contains("\"kind\":\"lock-not-available\""), answer.body());
        }
        long held = storm.stream().filter(a -> a.millis() >= 950).count();
        double counted = Http.metric("bastion_http_refusals_held_total", Map.of()) - heldBefore;
        assertTrue(counted >= STORM / 3, "held: " + counted + " of " + storm.size());
        assertTrue(held >= counted, counted + " held, but only " + held + " answers took a second or more");
        assertEquals(4, Transfers.ledgerEntries(hot, other), "a refused transfer moved money");
        assertEquals(0, Http.metric("bastion_db_row_waiting", Map.of()), "a transfer still queued for the row");
    }

    /**
     * Storms of {@value #STORM} requests, sent together, until at least a third of one storm's worth was
     * held (at most five storms): a loaded machine may spread one storm over more windows than it fills.
     */
    static List<Answer> stormUntilHeld(double heldBefore, java.util.function.Supplier<CompletableFuture<Answer>> request) {
        List<Answer> answers = new ArrayList<>();
        for (int storms = 0; storms < 5 && Http.metric("bastion_http_refusals_held_total", Map.of()) - heldBefore < STORM / 3;
             storms++) {
            List<CompletableFuture<Answer>> sent = new ArrayList<>();
            for (int i = 0; i < STORM; i++) {
                sent.add(request.get());
            }
            sent.forEach(answer -> answers.add(answer.join()));
        }
        return answers;
    }

    private static CompletableFuture<Answer> transfer(long from, long to) {
        return TimedRequests.send(Http.postJson("/customers/transfers", Transfers.transferBody(from, to, "1")).build());
    }

    static void assertRefused(Answer answer) {
        assertEquals(503, answer.status(), answer.body());
        assertTrue(answer.body().contains("\"kind\":\"pool-exhausted\""), answer.body());
        assertTrue(answer.retryAfter() >= 1, "Retry-After " + answer.retryAfter());
    }
}
