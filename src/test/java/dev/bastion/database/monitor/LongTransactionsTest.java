package dev.bastion.database.monitor;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * The long-transaction report names transactions that hold a connection, not requests waiting for
 * one: with the pool's connections stuck behind a table lock past DB_LEAK_THRESHOLD, the attempts
 * queued behind them are neither listed nor counted (before, every queued attempt was reported as a
 * transaction "held" since it arrived).
 */
@QuarkusTest
@TestProfile(LongTransactionsTest.TwoConnections.class)
@WithTestResource(PostgresResource.class)
class LongTransactionsTest {

    private static final int CALLERS = 6;

    public static class TwoConnections implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "2",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.request-timeout", "6",
                    "bastion.db.pool-timeout", "6",
                    "bastion.db.leak-threshold", "1",
                    "bastion.db.breaker-request-volume", "1000");
        }
    }

    @Test
    void attemptsQueuedForAConnectionAreNotReportedAsLongTransactions() throws Exception {
        long customer = createCustomer(uniqueEmail());
        String notes = "/customers/" + customer + "/notes";
        Map<String, String> listing = Map.of("operation", "note.list");
        double reportedBefore = Http.metric("bastion_db_long_transactions_total", listing);
        CompletableFuture<List<HttpResponse<String>>> readers;
        int holding;
        List<Map<String, Object>> open;
        try (SecondClient other = new SecondClient()) {
            other.execute("LOCK TABLE customer_note IN ACCESS EXCLUSIVE MODE");
            readers = CompletableFuture.supplyAsync(() -> Http.concurrently(CALLERS, i -> HttpRequest.newBuilder(Http.uri(notes))
                    .timeout(Duration.ofSeconds(30)).GET().build()));
            holding = SecondClient.awaitServiceBlocked(5000).size();
            Thread.sleep(2_500); // every caller has now waited past the 1 s threshold, holding a connection or not
            open = given().auth().oauth2(AdminTokens.admin()).get("/admin/database/connection-pool").then().statusCode(200)
                    .extract().jsonPath().getList("open_transactions");
            holding = Math.max(holding, SecondClient.serviceBackendsWaitingForLocks().size());
            other.rollback();
        }
        for (HttpResponse<String> answer : readers.get(30, TimeUnit.SECONDS)) {
            assertEquals(200, answer.statusCode(), answer.body()); // the lock went within their deadline
        }
        assertTrue(holding > 0 && holding < CALLERS, holding + " of " + CALLERS + " callers held a connection");
        assertEquals(holding, open.size(), "open transactions: " + open);
        assertTrue(open.stream().allMatch(t -> Boolean.TRUE.equals(t.get("over_threshold"))), "open transactions: " + open);
        assertEquals(holding, Http.metric("bastion_db_long_transactions_total", listing) - reportedBefore, 0.001,
                "long transactions counted for the callers that held a connection, and only those");
    }
}
