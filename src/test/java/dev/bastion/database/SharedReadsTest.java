package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
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
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.Test;

/**
 * Reads by id queued for the pool together share one statement, against a real PostgreSQL whose
 * customer table is locked (every read waits there, so the queue forms): each caller still gets its
 * own customer (or its own 404); a leader cut short by its own deadline, or whose connection is lost,
 * while its riders' reads were in its statement, leaves them to the next place: answered in full, not
 * failed (nor retried) with it.
 */
@QuarkusTest
@TestProfile(SharedReadsTest.PoolOfTwo.class)
@WithTestResource(PostgresResource.class)
class SharedReadsTest {

    private static final long REQUEST_TIMEOUT_MILLIS = 8_000;
    private static final String SHARED = "bastion_db_admission_shared_reads_total";
    private final HttpClient client = HttpClient.newHttpClient();

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

    /** Creates {@code count} customers; returns their ids (their emails are {@code marker-id@example.org}). */
    private static List<Long> customers(String marker, int count) {
        List<Long> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            HttpResponse<String> created = Http.send(Http.postJson("/customers",
                    "{\"name\":\"Shared " + i + "\",\"email\":\"" + marker + "-" + i + "@example.org\"}").build());
            assertEquals(201, created.statusCode(), created.body());
            ids.add(JsonPath.from(created.body()).getLong("id"));
        }
        return ids;
    }

    private CompletableFuture<HttpResponse<String>> get(long id) {
        return client.sendAsync(HttpRequest.newBuilder(Http.uri("/customers/" + id)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void queuedReadsShareStatementsAndEachCallerGetsItsOwnCustomer() throws Exception {
        String marker = "shared-" + System.nanoTime();
        List<Long> ids = customers(marker, 30);
        long missing = ids.get(ids.size() - 1) + 1_000_000;
        double sharedBefore = Http.metric(SHARED, Map.of());
        List<Long> asked = new ArrayList<>();
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE"); // every read waits for it
            for (int i = 0; i < 2; i++) { // the pool's two places, held behind the lock
                asked.add(ids.get(i));
                answers.add(get(ids.get(i)));
            }
            awaitBlocked(2, "", List.of());
            for (int i = 2; i < ids.size(); i++) {
                asked.add(ids.get(i));
                answers.add(get(ids.get(i)));
                if (i % 10 == 0) { // ids no customer has, amid the others
                    asked.add(missing + i);
                    answers.add(get(missing + i));
                }
            }
            WaitAtTheDoorTest.awaitWaiting(asked.size() - 2);
            migration.rollback();
        }
        for (int i = 0; i < asked.size(); i++) {
            HttpResponse<String> answer = answers.get(i).get(REQUEST_TIMEOUT_MILLIS * 2, TimeUnit.MILLISECONDS);
            long id = asked.get(i);
            if (id >= missing) {
                assertEquals(404, answer.statusCode(), answer.body());
                assertTrue(answer.body().contains("customer-not-found"), answer.body());
            } else {
                assertEquals(200, answer.statusCode(), answer.body());
                JsonPath customer = JsonPath.from(answer.body());
                assertEquals(id, customer.getLong("id"));
                assertEquals(marker + "-" + ids.indexOf(id) + "@example.org", customer.getString("email"));
            }
        }
        double shared = Http.metric(SHARED, Map.of()) - sharedBefore;
        // a place freed takes the reads queued inside behind its leader (two rounds of the pool: 3 riders)
        assertTrue(shared >= 3, "reads answered by another's statement: " + shared);
    }

    @Test
    void aLeaderCutShortByItsDeadlineLeavesItsRidersToTheNextPlace() throws Exception {
        String marker = "leader-" + System.nanoTime();
        List<Long> ids = customers(marker, 6);
        double sharedBefore = Http.metric(SHARED, Map.of());
        double retriesBefore = Http.metric("bastion_db_retries_total", Map.of());
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE");
            answers.add(get(ids.get(0)));
            answers.add(get(ids.get(1)));
            awaitBlocked(2, "", List.of());
            Thread.sleep(2_000);
            answers.add(get(ids.get(2))); // the leader-to-be: its deadline comes two seconds after the first two's
            WaitAtTheDoorTest.awaitWaiting(1);
            Thread.sleep(3_000);
            for (int i = 3; i < 6; i++) { // its riders-to-be: three seconds more to live than it
                answers.add(get(ids.get(i)));
            }
            WaitAtTheDoorTest.awaitWaiting(4);
            // the first two reach their deadline: a place freed takes the leader and its three riders, one statement
            List<String> first = awaitBlocked(1, "ANY", List.of());
            assertEquals(0.0, Http.metric("bastion_db_admission_waiting", Map.of()), "the three ride along with the leader");
            HttpResponse<String> leader = answers.get(2).get(REQUEST_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            assertEquals(503, leader.statusCode(), leader.body());
            assertTrue(leader.body().contains("request-deadline-exceeded"), leader.body());
            // its riders went back to the queue and the next place took them: a second shared statement, waiting
            awaitBlocked(1, "ANY", first);
            migration.rollback();
        }
        assertOwnCustomers(answers, ids, marker, 3);
        assertEquals(2.0, Http.metric(SHARED, Map.of()) - sharedBefore, "two of the three rode with the next leader");
        assertEquals(0.0, Http.metric("bastion_db_retries_total", Map.of()) - retriesBefore,
                "the riders were served by the next place, not failed with the leader and retried");
    }

    @Test
    void aSharedStatementsLostConnectionIsItsLeadersAloneAndTheNextPlaceAnswersItsRiders() throws Exception {
        String marker = "lost-" + System.nanoTime();
        List<Long> ids = customers(marker, 6);
        double retriesBefore = Http.metric("bastion_db_retries_total", Map.of());
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE");
            answers.add(get(ids.get(0)));
            answers.add(get(ids.get(1)));
            List<String> holding = awaitBlocked(2, "", List.of());
            answers.add(get(ids.get(2)));
            WaitAtTheDoorTest.awaitWaiting(1);
            for (int i = 3; i < 6; i++) {
                answers.add(get(ids.get(i)));
            }
            WaitAtTheDoorTest.awaitWaiting(4);
            // one of the two places' backends killed: its read is retried, and its place takes the leader and three riders
            SecondClient.terminate(List.of(Integer.valueOf(holding.get(0).split("@")[0])));
            List<String> shared = awaitBlocked(1, "ANY", List.of());
            // the shared statement's backend killed too: its leader alone fails (and retries), its riders go to the next place
            SecondClient.terminate(List.of(Integer.valueOf(shared.get(0).split("@")[0])));
            awaitBlocked(1, "ANY", shared);
            migration.rollback();
        }
        assertOwnCustomers(answers, ids, marker, 0);
        // retried: the two reads whose statements were killed, and after each kill at most one leader handed the
        // killed connection before the pool saw it close; riders failed with their leader would make it 5 or more
        double retries = Http.metric("bastion_db_retries_total", Map.of()) - retriesBefore;
        assertTrue(retries >= 2 && retries <= 4, "reads retried: " + retries);
    }

    /** The answers from the {@code from}-th on are each a 200 with the customer asked for (ids and answers in one order). */
    private static void assertOwnCustomers(List<CompletableFuture<HttpResponse<String>>> answers, List<Long> ids, String marker,
                                           int from) throws Exception {
        for (int i = from; i < ids.size(); i++) {
            HttpResponse<String> answer = answers.get(i).get(REQUEST_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            assertEquals(200, answer.statusCode(), answer.body());
            assertEquals(ids.get(i), JsonPath.from(answer.body()).getLong("id"));
            assertEquals(marker + "-" + i + "@example.org", JsonPath.from(answer.body()).getString("email"));
        }
    }

    /**
     * Waits until {@code count} service backends wait for the lock running a statement containing {@code text},
     * none of them one of {@code before}; returns them (each as its pid and its statement's start).
     */
    private static List<String> awaitBlocked(int count, String text, List<String> before) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String sql = "SELECT pid || '@' || query_start FROM pg_stat_activity WHERE application_name = 'bastion'"
                + " AND wait_event_type = 'Lock' AND query LIKE '%" + text + "%'";
        List<String> blocked = List.of();
        while (System.nanoTime() < until) {
            blocked = new ArrayList<>();
            for (String each : SecondClient.strings(sql)) {
                if (!before.contains(each)) {
                    blocked.add(each);
                }
            }
            if (blocked.size() == count) {
                return blocked;
            }
            Thread.sleep(20);
        }
        throw new AssertionError(count + " service backends blocked on the lock running '" + text + "' expected, "
                + blocked.size() + " seen");
    }
}
