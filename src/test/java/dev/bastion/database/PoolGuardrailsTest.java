package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static dev.bastion.testing.Transfers.transferBody;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Http;
import dev.bastion.testing.Incidents;
import dev.bastion.testing.Management;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

/**
 * A pool of two connections, really exhausted by requests stuck behind a second client's lock:
 * callers beyond it get a fast 503, probes keep answering, and everything recovers afterwards.
 */
@QuarkusTest
@TestProfile(PoolGuardrailsTest.TinyPool.class)
@WithTestResource(PostgresResource.class)
class PoolGuardrailsTest {

    public static class TinyPool implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "2",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.pool-timeout", "1",
                    "bastion.db.pool-wait-queue", "10",
                    // the pool's own guardrail, with the per-row bound out of the way (HeldRowTest covers that one)
                    "bastion.db.max-connections-per-row", "1000",
                    "bastion.db.command-timeout", "4",
                    "bastion.db.leak-threshold", "1",
                    "bastion.db.breaker-request-volume", "1000");
        }
    }

    @Test
    void fiftyConcurrentSlowRequestsOnAPoolOfTwoGetFast503sAndTheServiceRecovers() throws Exception {
        long hot = createCustomer(uniqueEmail(), "1000.00");
        long target = createCustomer(uniqueEmail(), "0");
        double rejectedBefore = Http.metric("bastion_db_transactions_seconds_count",
                Map.of("operation", "customer.transfer", "outcome", "pool-exhausted"));
        double earlyBefore = Http.metric("bastion_db_admission_refusals_total", Map.of());
        double longBefore = Http.metric("bastion_db_long_transactions_total", Map.of("operation", "customer.transfer"));

        List<HttpResponse<String>> responses;
        try (SecondClient other = new SecondClient()) {
            other.lockCustomer(target);              // every transfer to target blocks while holding a connection
            long start = System.nanoTime();
            CompletableFuture<List<HttpResponse<String>>> flood = CompletableFuture.supplyAsync(() ->
                    Http.concurrently(50, i -> Http.postJson("/customers/transfers",
                            transferBody(hot, target, "1")).build()));
            SecondClient.awaitServiceBlocked(5000);
            // every caller but the two holding connections answered (refused after DB_POOL_TIMEOUT or on arrival)
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (Http.metric("bastion_db_transactions_seconds_count", Map.of("operation", "customer.transfer", "outcome",
                    "pool-exhausted")) - rejectedBefore + Http.metric("bastion_db_admission_refusals_total", Map.of()) - earlyBefore < 48
                    && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            // and the two held transactions are past the leak threshold (1 s): the detector's own report
            while (!given().auth().oauth2(AdminTokens.admin()).get("/admin/database/connection-pool").then().extract()
                    .jsonPath().getList("open_transactions.over_threshold").contains(true) && System.nanoTime() < until) {
                Thread.sleep(50);
            }
            Management.given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
            Management.given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
            given().auth().oauth2(AdminTokens.admin()).get("/admin/database/connection-pool").then().statusCode(200)
                    .body("pool.active", equalTo(2))
                    .body("pool.max_size", equalTo(2))
                    .body("pool.utilization_percent", equalTo(100.0f))
                    .body("open_transactions.over_threshold", hasItem(true));
            other.rollback();                        // release: the two in-flight transfers complete
            responses = flood.get(30, TimeUnit.SECONDS);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(25), "the flood was not over in time"); // bounded, with room for a loaded machine
        }

        long ok = responses.stream().filter(r -> r.statusCode() == 200).count();
        List<HttpResponse<String>> rejected = responses.stream().filter(r -> r.statusCode() == 503).toList();
        assertEquals(50, ok + rejected.size(), "only 200 or 503: " + responses.stream().map(HttpResponse::statusCode).toList());
        assertTrue(rejected.size() >= 40, "most callers were refused, not queued forever: " + rejected.size());
        for (HttpResponse<String> r : rejected) {
            assertTrue(r.headers().firstValue("Retry-After").isPresent());
            assertTrue(r.body().contains("\"kind\":\"pool-exhausted\""), r.body());
        }
        // refused inside the unit of work (it waited, or could not wait long enough) or before any work (on the router)
        assertEquals(rejected.size(), Http.metric("bastion_db_transactions_seconds_count",
                Map.of("operation", "customer.transfer", "outcome", "pool-exhausted")) - rejectedBefore
                + Http.metric("bastion_db_admission_refusals_total", Map.of()) - earlyBefore, 0.001);
        assertTrue(Http.metric("bastion_db_long_transactions_total", Map.of("operation", "customer.transfer")) >= longBefore + 1,
                "the detector reported the transactions held past the leak threshold");

        // full recovery: the pool serves again and every acknowledged transfer is in the balance
        given().contentType(ContentType.JSON).body(transferBody(hot, target, "1"))
                .post("/customers/transfers").then().statusCode(200);
        given().get("/customers/" + target).then().statusCode(200).body("creditBalance", equalTo((float) (ok + 1)));
    }

    @Test
    void aStatementOverTheCommandTimeoutIsCancelledAndReportedAsATimeout() throws Exception {
        long a = createCustomer(uniqueEmail(), "10.00");
        long b = createCustomer(uniqueEmail(), "0");
        HttpResponse<String> response;
        try (SecondClient other = new SecondClient()) {
            other.lockCustomer(b);
            CompletableFuture<HttpResponse<String>> transfer = Incidents.transferAsync(a, b, "1.00");
            response = transfer.get(30, TimeUnit.SECONDS); // PostgreSQL cancels it after DB_COMMAND_TIMEOUT (4 s)
        }
        assertEquals(504, response.statusCode(), response.body());
        assertTrue(response.body().contains("\"kind\":\"statement-timeout\""), response.body());
        given().get("/customers/" + a).then().body("creditBalance", equalTo(10.0f));
        given().auth().oauth2(AdminTokens.admin()).get("/admin/database/health").then().statusCode(200)
                .body("performance.long_transactions_24h", greaterThanOrEqualTo(1));
    }
}
