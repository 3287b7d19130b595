package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A crowd beyond two rounds of the pool waits at the door, before its route runs (no body read, no
 * unit of work), against a real PostgreSQL whose customer table is locked: the creates held there
 * read their bodies once let in and are all saved, each once; and a wait at the door counts against
 * the request's deadline, so a crowd the database cannot serve is answered within it, nothing saved.
 */
@QuarkusTest
@TestProfile(WaitAtTheDoorTest.PoolOfTwo.class)
// the deadline's crowd goes last: what its waiters waited (the whole deadline) then refuses newcomers on arrival for a while
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@WithTestResource(PostgresResource.class)
class WaitAtTheDoorTest {

    private static final int CROWD = 24;
    private static final long REQUEST_TIMEOUT_MILLIS = 4_000;

    public static class PoolOfTwo implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "2",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.request-timeout", Long.toString(REQUEST_TIMEOUT_MILLIS / 1000),
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    /** Sends the crowd's creates, each on a connection of its own; returns each answer with its time in ms. */
    private static List<CompletableFuture<long[]>> sendCrowd(String marker) {
        HttpClient client = HttpClient.newHttpClient();
        List<CompletableFuture<long[]>> answers = new ArrayList<>();
        for (int i = 0; i < CROWD; i++) {
            long sent = System.nanoTime();
            answers.add(client.sendAsync(Http.postJson("/customers",
                            "{\"name\":\"Crowd\",\"email\":\"" + marker + "-" + i + "@example.org\",\"credit\":\"1.00\"}").build(),
                            HttpResponse.BodyHandlers.ofString())
                    .thenApply(r -> new long[] {r.statusCode(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent)}));
        }
        return answers;
    }

    /** Waits until {@code count} requests wait for the pool (inside the admission or at its door). */
    static void awaitWaiting(int count) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        double waiting = 0;
        while (System.nanoTime() < until) {
            waiting = Http.metric("bastion_db_admission_waiting", Map.of());
            if (waiting == count) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError(count + " callers waiting expected, " + waiting + " seen");
    }

    private static long saved(String marker) throws Exception {
        return SecondClient.queryLong("SELECT count(*) FROM customer WHERE email LIKE '" + marker + "-%'");
    }

    @Test
    @Order(1)
    void createsHeldAtTheDoorReadTheirBodiesOnceLetInAndAreSavedOnce() throws Exception {
        String marker = "door-" + System.nanoTime();
        List<CompletableFuture<long[]>> answers;
        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN EXCLUSIVE MODE"); // every create waits for it
            answers = sendCrowd(marker);
            // two hold the pool's connections (on the lock), four wait inside the admission, the rest at the door
            awaitWaiting(CROWD - 2);
            assertEquals(2, SecondClient.serviceBackendsWaitingForLocks().size(), "only the pool's two connections wait on the lock");
            migration.rollback();
        }
        for (CompletableFuture<long[]> answer : answers) {
            assertEquals(201, answer.get(30, TimeUnit.SECONDS)[0]);
        }
        assertEquals(CROWD, saved(marker), "every create held at the door saved, once");
        assertEquals(0.0, Http.metric("bastion_db_admission_waiting", Map.of()));
    }

    @Test
    @Order(2)
    void aWaitAtTheDoorCountsAgainstTheRequestDeadline() throws Exception {
        String marker = "door-late-" + System.nanoTime();
        List<long[]> answered = new ArrayList<>();
        double refusedBefore = Http.metric("bastion_db_admission_refusals_total", Map.of());
        double unitsBefore = Http.metric("bastion_db_transactions_seconds_count", Map.of());
        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN EXCLUSIVE MODE");
            List<CompletableFuture<long[]>> answers = sendCrowd(marker);
            awaitWaiting(CROWD - 2);
            for (CompletableFuture<long[]> answer : answers) {
                answered.add(answer.get(30, TimeUnit.SECONDS)); // the lock is still held: nobody can be served
            }
            migration.rollback();
        }
        for (long[] answer : answered) {
            assertTrue(answer[0] == 503 || answer[0] == 504, "status " + answer[0]);
            // its deadline, one sweep of the queue and the scheduling of a loaded machine; not a deadline
            // counted again from when it was let in
            assertTrue(answer[1] < REQUEST_TIMEOUT_MILLIS + 1_500, "answered after " + answer[1] + " ms");
        }
        Thread.sleep(300);
        assertEquals(0, saved(marker), "a create answered 503 or 504 was saved after all");
        // every answer is counted where operators look: a refusal at the door (BastionDbPoolRejecting), or a
        // unit of work's outcome (pool-exhausted, deadline) for those that got past it. How many are refused at
        // the door is timing: when the waiters inside run out of time, a sweep lets the door's requests in
        // (their deadlines come a little later), and on a loaded machine all of them may run out inside
        double refused = Http.metric("bastion_db_admission_refusals_total", Map.of()) - refusedBefore;
        double units = Http.metric("bastion_db_transactions_seconds_count", Map.of()) - unitsBefore;
        assertTrue(refused + units >= CROWD, "counted: " + refused + " refusals at the door, " + units + " units of work");
    }
}
