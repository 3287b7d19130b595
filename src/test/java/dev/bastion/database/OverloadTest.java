package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.ServerSettings;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * The pool's admission under a crowd, against a real PostgreSQL made slow: it refuses by time (what
 * could not be served within DB_POOL_TIMEOUT is refused on arrival, before any work), recovers when
 * the database does, and retries across requests stay within the service's retry budget.
 */
@QuarkusTest
@TestProfile(OverloadTest.PoolOfTwo.class)
@WithTestResource(PostgresResource.class)
class OverloadTest {

    public static class PoolOfTwo implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "2",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.pool-timeout", "1",
                    "bastion.db.request-timeout", "3",
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    private static HttpRequest read(long id) {
        return HttpRequest.newBuilder(Http.uri("/customers/" + id)).timeout(Duration.ofSeconds(30)).build();
    }

    private static String kind(HttpResponse<String> r) {
        int at = r.body().indexOf("\"kind\":\"");
        return r.statusCode() + (at < 0 ? "" : " " + r.body().substring(at + 8, r.body().indexOf('"', at + 8)));
    }

    @Test
    void aSlowDatabaseMakesTheAdmissionRefuseOnArrivalAndItRecoversWithTheDatabase() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        double refusedBefore = Http.metric("bastion_db_admission_refusals_total", Map.of());
        List<HttpResponse<String>> slow = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        try (SecondClient migration = new SecondClient()) {
            // every read of the table waits behind this lock: the database is "slow" for reads
            migration.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE");
            // a crowd that keeps coming (more callers than connections): two hold the pool, the rest
            // queue and time out, which tells the admission how long waiting takes; callers arriving
            // after that are refused on the router
            java.util.concurrent.atomic.AtomicBoolean crowd = new java.util.concurrent.atomic.AtomicBoolean(true);
            java.util.concurrent.ExecutorService callers = java.util.concurrent.Executors.newFixedThreadPool(8);
            try {
                for (int c = 0; c < 8; c++) {
                    callers.submit(() -> {
                        while (crowd.get()) {
                            slow.add(Http.send(read(id)));
                        }
                        return null;
                    });
                }
                long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (Http.metric("bastion_db_admission_refusals_total", Map.of()) <= refusedBefore
                        && System.nanoTime() < until) {
                    Thread.sleep(50);
                }
            } finally {
                crowd.set(false);
                callers.shutdown();
                assertTrue(callers.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS));
            }
        }
        Map<String, Long> outcomes = slow.stream().collect(Collectors.groupingBy(OverloadTest::kind, Collectors.counting()));
        for (HttpResponse<String> r : slow) {
            assertEquals(503, r.statusCode(), outcomes.toString());
            assertTrue(r.headers().firstValue("Retry-After").isPresent());
            assertTrue(kind(r).equals("503 pool-exhausted") || kind(r).equals("503 request-deadline-exceeded"), outcomes.toString());
        }
        assertTrue(Http.metric("bastion_db_admission_refusals_total", Map.of()) > refusedBefore,
                "refused on arrival once waiting was known to take longer than DB_POOL_TIMEOUT: " + outcomes);

        // the database answers again: so does every caller (a few queued rounds renew the estimate first)
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        List<HttpResponse<String>> recovered;
        do {
            recovered = Http.concurrently(30, i -> read(id));
        } while (recovered.stream().anyMatch(r -> r.statusCode() != 200) && System.nanoTime() < deadline);
        assertTrue(recovered.stream().allMatch(r -> r.statusCode() == 200),
                recovered.stream().collect(Collectors.groupingBy(OverloadTest::kind, Collectors.counting())).toString());
    }

    @Test
    void retriesAcrossRequestsStayWithinTheBudget() throws Exception {
        double retriesBefore = Http.metric("bastion_db_retries_total", Map.of());
        double overBudgetBefore = Http.metric("bastion_db_retries_over_budget_total", Map.of());
        int writes = 240;
        List<HttpResponse<String>> refused;
        try {
            ServerSettings.set("default_transaction_read_only", "on"); // every write fails, every one retryable
            refused = new java.util.ArrayList<>();
            for (int round = 0; round < writes / 20; round++) {
                refused.addAll(Http.concurrently(20, i -> Http.postJson("/customers",
                        "{\"name\":\"Refused\",\"email\":\"" + uniqueEmail() + "\"}").build()));
            }
        } finally {
            ServerSettings.reset("default_transaction_read_only", "off");
        }
        assertTrue(refused.stream().allMatch(r -> r.statusCode() == 503), "every write refused, none lost or 500: "
                + refused.stream().collect(Collectors.groupingBy(OverloadTest::kind, Collectors.counting())));
        double retries = Http.metric("bastion_db_retries_total", Map.of()) - retriesBefore;
        // without a budget: DB_MAX_RETRIES (3) per write = 720 retries
        assertTrue(retries > 0, "writes were retried while the budget lasted");
        assertTrue(retries <= RetryTokens.BURST + 0.2 * writes + 20,
                "at most a fifth of the units (plus the saved-up burst) were retried: " + retries);
        assertTrue(Http.metric("bastion_db_retries_over_budget_total", Map.of()) > overBudgetBefore,
                "the budget refused retries: " + retries + " retried");
    }
}
