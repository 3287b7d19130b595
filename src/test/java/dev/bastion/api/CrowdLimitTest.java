package dev.bastion.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Await;
import dev.bastion.testing.BusyCores;
import dev.bastion.testing.Customers;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.TimedRequests;
import dev.bastion.testing.TimedRequests.Answer;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * The crowd limit ({@link CrowdLimit}) against real saturated cores: spinning threads in the service's
 * JVM and a crowd of callers. Requests waiting for the database (here behind a real table lock) do not
 * count: a locked table under busy cores lowers nothing.
 */
@QuarkusTest
@TestProfile(CrowdLimitTest.PoolOfFour.class)
@WithTestResource(PostgresResource.class)
class CrowdLimitTest {

    /** The floor is then 32 requests in the service. */
    public static class PoolOfFour implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "4",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.request-timeout", "30",
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    private static final int FLOOR = 32;
    private static final Map<String, String> NONE = Map.of();

    @Test
    void aCrowdOnSaturatedCoresIsRefusedBeyondTheLimitWhichLiftsWhenTheCoresAreFree() throws Exception {
        double refusedBefore = Http.metric("bastion_http_crowd_refusals_total", NONE);
        double limit;
        Crowd crowd;
        try (BusyCores busy = BusyCores.start(8)) {
            crowd = Crowd.start(200, CrowdLimitTest::notJson);
            Await.until(() -> Http.metric("bastion_http_crowd_refusals_total", NONE) > refusedBefore, "the crowd limit refused");
            // the limit as set while the crowd lasts (held callers come back, the limit may lift and be set again)
            limit = 0;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < until && limit == 0) {
                limit = Http.metric("bastion_http_crowd_limit", NONE);
                Thread.sleep(20);
            }
            // the admin API is not behind the limit
            given().auth().oauth2(AdminTokens.admin()).get("/admin/database/connection-pool").then().statusCode(200);
            crowd.stop();
        }
        assertTrue(limit >= FLOOR, "limit " + limit + " below the floor (0: never seen set)");
        List<Answer> answers = crowd.answers();
        List<Answer> refused = answers.stream().filter(a -> a.status() == 503).toList();
        assertTrue(!refused.isEmpty(), "no 503 among " + answers.size() + " answers");
        for (Answer answer : answers) {
            assertTrue(answer.status() == 400 || answer.status() == 503, answer.status() + " " + answer.body());
        }
        for (Answer answer : refused) {
            assertTrue(answer.retryAfter() >= 1, "Retry-After " + answer.retryAfter());
            assertTrue(answer.body().contains("\"kind\":\"pool-exhausted\""), answer.body());
            assertTrue(answer.body().contains("cores"), "a crowd refusal blames the pool: " + answer.body());
        }
        double counted = Http.metric("bastion_http_crowd_refusals_total", NONE) - refusedBefore;
        assertTrue(counted >= refused.size(), counted + " refusals counted, " + refused.size() + " answered");

        // the cores free and the crowd gone, the limit is lifted after a second without refusals
        Await.until(() -> Http.metric("bastion_http_crowd_limit", NONE) == 0, "the limit lifted");
        String email = Customers.uniqueEmail();
        Customers.createCustomer(email);
        assertEquals(1, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email = '" + email + "'"));
    }

    @Test
    void requestsWaitingForTheDatabaseDoNotCountAgainstTheLimit() throws Exception {
        long id = Customers.createCustomer(Customers.uniqueEmail());
        List<CompletableFuture<Answer>> reads = new ArrayList<>();
        double latest = 0;
        for (int i = 0; i < 150; i++) { // warm: a cold service's loops are late with any burst
            reads.add(TimedRequests.send(HttpRequest.newBuilder(Http.uri("/customers/" + id)).GET().build()));
        }
        reads.forEach(CompletableFuture::join);
        reads.clear();
        Await.until(() -> Http.metric("bastion_http_crowd_limit", NONE) == 0, "any limit the burst set lifted");
        double refusedBefore = Http.metric("bastion_http_crowd_refusals_total", NONE);
        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE");
            for (int i = 0; i < 150; i++) {
                reads.add(TimedRequests.send(HttpRequest.newBuilder(Http.uri("/customers/" + id)).GET().build()));
            }
            Await.until(() -> Http.metric("bastion_http_crowd_in_flight", NONE) >= 150, "150 reads in the service");
            // busy cores and a small crowd keep the loops late: without the reads the requests in the service stay under the floor
            try (BusyCores busy = BusyCores.start(8)) {
                Crowd crowd = Crowd.start(FLOOR / 2, CrowdLimitTest::notJson); // writes: the read lane's door is full
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
                while (System.nanoTime() < until) {
                    String scrape = Http.scrape();
                    latest = Math.max(latest, Http.metric(scrape, "bastion_http_event_loop_delay_seconds", NONE));
                    assertEquals(0, Http.metric(scrape, "bastion_http_crowd_limit", NONE), "a limit with 150 reads waiting on a lock");
                    Thread.sleep(50);
                }
                crowd.stop();
                assertTrue(crowd.answers().stream().allMatch(a -> a.status() == 400), "a small crowd was refused: "
                        + crowd.answers().stream().map(a -> a.status() + " " + a.body()).distinct().limit(3).toList());
            }
            migration.rollback();
        }
        assertTrue(latest > CrowdLimit.TARGET_MICROS / 1e6, "the loops were never late (" + latest + " s): nothing was tested");
        for (CompletableFuture<Answer> read : reads) {
            Answer answer = read.get(30, TimeUnit.SECONDS);
            assertEquals(200, answer.status(), answer.body());
            assertTrue(answer.body().contains("\"id\":" + id), answer.body());
        }
        assertEquals(refusedBefore, Http.metric("bastion_http_crowd_refusals_total", NONE), "the crowd limit refused");
    }

    /** A write that does no database work: a body that is not JSON, 400. */
    private static HttpRequest notJson() {
        return Http.postJson("/customers", "{").build();
    }

    /** Callers that each send a request that does no database work again as soon as it is answered. */
    private static final class Crowd {

        private final Queue<Answer> answers = new ConcurrentLinkedQueue<>();
        private final List<CompletableFuture<Void>> callers = new ArrayList<>();
        private volatile boolean running = true;

        static Crowd start(int size, java.util.function.Supplier<HttpRequest> request) {
            Crowd crowd = new Crowd();
            for (int i = 0; i < size; i++) {
                CompletableFuture<Void> done = new CompletableFuture<>();
                crowd.callers.add(done);
                crowd.next(done, request);
            }
            return crowd;
        }

        private void next(CompletableFuture<Void> done, java.util.function.Supplier<HttpRequest> request) {
            if (!running) {
                done.complete(null);
                return;
            }
            TimedRequests.send(request.get()).whenComplete((answer, failed) -> {
                if (answer != null) {
                    answers.add(answer);
                }
                next(done, request);
            });
        }

        void stop() throws Exception {
            running = false;
            CompletableFuture.allOf(callers.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        }

        List<Answer> answers() {
            return List.copyOf(answers);
        }
    }
}
