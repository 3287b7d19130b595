package dev.bastion.customer;

import static dev.bastion.testing.Customers.balance;
import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static dev.bastion.testing.Problems.assertProblem;
import static dev.bastion.testing.Transfers.transferBody;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bastion.testing.Http;
import dev.bastion.testing.IdempotencyKeys;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

/**
 * Hot rows: credit adjustments are one atomic UPDATE at READ COMMITTED, so contention makes them
 * wait for the row lock instead of failing; with an Idempotency-Key they are applied once.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class CreditContentionTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static HttpRequest adjustment(long id, String amount, String key) {
        HttpRequest.Builder request = Http.postJson("/customers/" + id + "/credit-adjustments", "{\"amount\":" + amount + "}");
        if (key != null) {
            request.header("Idempotency-Key", key);
        }
        return request.build();
    }

    private static double contentionRetries() {
        return Http.metric("bastion_db_deadlocks_total", Map.of());
    }

    @Test
    void concurrentAdjustmentsOfOneHotRowAllSucceedAndNoneIsLost() throws Exception {
        long id = createCustomer(uniqueEmail(), "1000.00");
        long versionBefore = SecondClient.queryLong("SELECT version FROM customer WHERE id = " + id);
        double retriesBefore = Http.metric("bastion_db_retries_total", Map.of());
        Random random = new Random(7);
        List<String> amounts = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            amounts.add((random.nextBoolean() ? "" : "-") + (1 + random.nextInt(10)) + "." + random.nextInt(10) + "0");
        }

        List<HttpResponse<String>> responses = Http.concurrently(amounts.size(), i -> adjustment(id, amounts.get(i), null));

        responses.forEach(r -> assertEquals(200, r.statusCode(), r.body()));
        BigDecimal expected = amounts.stream().map(BigDecimal::new).reduce(new BigDecimal("1000.00"), BigDecimal::add);
        assertEquals(expected, balance(id), "every acknowledged adjustment applied exactly once");
        assertEquals(versionBefore + amounts.size(), SecondClient.queryLong("SELECT version FROM customer WHERE id = " + id),
                "each adjustment bumps the version");
        assertEquals(0, Http.metric("bastion_db_retries_total", Map.of()) - retriesBefore, 0.001,
                "waiting on the row lock, not retrying");
        // the responses report the balance each adjustment produced: all different, the last one is the final balance
        List<BigDecimal> reported = new ArrayList<>();
        for (HttpResponse<String> r : responses) {
            reported.add(new BigDecimal(JSON.readTree(r.body()).get("creditBalance").asText()));
        }
        assertTrue(reported.stream().anyMatch(b -> b.compareTo(expected) == 0), "one response shows the final balance");
    }

    @Test
    void adjustmentsAndTransfersOnThreeHotRowsNeverReachTheCallerAsErrors() throws Exception {
        List<Long> ids = List.of(createCustomer(uniqueEmail(), "500.00"), createCustomer(uniqueEmail(), "500.00"),
                createCustomer(uniqueEmail(), "500.00"));
        String idList = ids.toString().replace("[", "(").replace("]", ")");
        Random random = new Random(11);
        List<HttpRequest> requests = new ArrayList<>();
        List<String[]> plans = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            int a = random.nextInt(3);
            String amount = (1 + random.nextInt(20)) + ".00";
            if (random.nextBoolean()) {
                String signed = (random.nextBoolean() ? "" : "-") + amount;
                plans.add(new String[]{"adjust", Long.toString(ids.get(a)), signed});
                requests.add(adjustment(ids.get(a), signed, null));
            } else {
                int b = (a + 1 + random.nextInt(2)) % 3;
                plans.add(new String[]{"transfer", Long.toString(ids.get(a)), Long.toString(ids.get(b)), amount});
                requests.add(Http.postJson("/customers/transfers", transferBody(ids.get(a), ids.get(b), amount)).build());
            }
        }

        List<HttpResponse<String>> responses = Http.concurrently(requests.size(), requests::get);

        Map<Long, BigDecimal> expected = new java.util.HashMap<>();
        ids.forEach(id -> expected.put(id, new BigDecimal("500.00")));
        int transfers = 0;
        for (int i = 0; i < responses.size(); i++) {
            HttpResponse<String> r = responses.get(i);
            assertTrue(r.statusCode() == 200 || r.statusCode() == 422, "no 5xx under contention: " + r.statusCode() + " " + r.body());
            if (r.statusCode() == 422) {
                assertEquals("insufficient-credit", JSON.readTree(r.body()).get("kind").asText());
                continue;
            }
            String[] plan = plans.get(i);
            if (plan[0].equals("adjust")) {
                expected.merge(Long.parseLong(plan[1]), new BigDecimal(plan[2]), BigDecimal::add);
            } else {
                transfers++;
                expected.merge(Long.parseLong(plan[1]), new BigDecimal(plan[3]).negate(), BigDecimal::add);
                expected.merge(Long.parseLong(plan[2]), new BigDecimal(plan[3]), BigDecimal::add);
            }
        }
        for (long id : ids) {
            assertEquals(expected.get(id), balance(id), "balance of " + id + " = initial + acknowledged adjustments ± transfers");
        }
        assertEquals(transfers, SecondClient.queryLong("SELECT count(*) FROM credit_transfer WHERE from_id IN " + idList),
                "ledger rows = acknowledged transfers");
    }

    @Test
    void anAdjustmentWaitsForAnotherWriterOfTheRowAndAddsToWhatItCommitted() throws Exception {
        long id = createCustomer(uniqueEmail(), "10.00");
        double before = contentionRetries();
        CompletableFuture<HttpResponse<String>> pending;
        try (SecondClient other = new SecondClient()) {
            other.execute("UPDATE customer SET credit_balance = credit_balance + 1 WHERE id = " + id);
            pending = CompletableFuture.supplyAsync(() -> Http.send(adjustment(id, "5", null)));
            SecondClient.awaitServiceBlocked(5000);     // the UPDATE waits for the row lock...
            other.commit();                             // ...then adds to the committed 11.00
        }
        HttpResponse<String> response = pending.get(30, TimeUnit.SECONDS);

        assertEquals(200, response.statusCode(), response.body());
        assertEquals("16.00", JSON.readTree(response.body()).get("creditBalance").decimalValue().setScale(2).toPlainString());
        assertEquals(new BigDecimal("16.00"), balance(id), "both changes applied, none lost");
        assertEquals(0, contentionRetries() - before, 0.001, "no serialization failure, no retry");
    }

    @Test
    void refusalsComeFromTheDatabaseAndChangeNothing() throws Exception {
        long id = createCustomer(uniqueEmail(), "3.00");
        long version = SecondClient.queryLong("SELECT version FROM customer WHERE id = " + id);
        assertProblem(given().contentType(ContentType.JSON).body("{\"amount\":-3.01}")
                .post("/customers/" + id + "/credit-adjustments").then(), 422, "insufficient-credit")
                .body("field", equalTo("amount"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"amount\":1}")
                .post("/customers/987654321/credit-adjustments").then(), 404, "customer-not-found");
        assertEquals(new BigDecimal("3.00"), balance(id));
        assertEquals(version, SecondClient.queryLong("SELECT version FROM customer WHERE id = " + id));
    }

    /**
     * A profile update is one UPDATE ... WHERE version = $n: PUTs based on the same version race for the
     * row lock, the first one wins, and every other one finds the version moved on.
     */
    @Test
    void concurrentProfileUpdatesBasedOnOneVersionLeaveExactlyOneWinner() throws Exception {
        String email = uniqueEmail();
        long id = createCustomer(email, "5.00");
        long version = SecondClient.queryLong("SELECT version FROM customer WHERE id = " + id);

        List<HttpResponse<String>> responses = Http.concurrently(20, i -> HttpRequest.newBuilder(Http.uri("/customers/" + id))
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"Writer " + i + "\",\"email\":\"" + email
                        + "\",\"status\":\"ACTIVE\",\"version\":" + version + "}"))
                .build());

        List<HttpResponse<String>> won = responses.stream().filter(r -> r.statusCode() == 200).toList();
        assertEquals(1, won.size(), "exactly one update wins: " + responses.stream().map(HttpResponse::statusCode).toList());
        for (HttpResponse<String> lost : responses) {
            if (lost != won.get(0)) {
                assertEquals(409, lost.statusCode(), lost.body());
                assertTrue(lost.body().contains("\"concurrent-modification\"") && lost.body().contains("at version " + (version + 1)),
                        lost.body());
            }
        }
        JsonNode winner = JSON.readTree(won.get(0).body());
        assertEquals(version + 1, winner.get("version").asLong());
        assertEquals(winner.get("name").asText(), SecondClient.queryString("SELECT name FROM customer WHERE id = " + id),
                "the stored row is the winner's");
        assertEquals(version + 1, SecondClient.queryLong("SELECT version FROM customer WHERE id = " + id));
        assertEquals(new BigDecimal("5.00"), balance(id), "a profile update leaves the balance alone");
    }

    @Test
    void anAdjustmentBumpsTheVersionSoAProfileUpdateBasedOnTheOldOneIsRefused() throws Exception {
        String email = uniqueEmail();
        long id = createCustomer(email, "1.00");
        JsonNode before = JSON.readTree(given().get("/customers/" + id).asString());
        given().contentType(ContentType.JSON).body("{\"amount\":2}").post("/customers/" + id + "/credit-adjustments")
                .then().statusCode(200)
                .body("version", equalTo(before.get("version").asInt() + 1))
                .body("creditBalance", equalTo(3.0f));
        JsonNode after = JSON.readTree(given().get("/customers/" + id).asString());
        assertTrue(java.time.Instant.parse(after.get("updatedAt").asText())
                .isAfter(java.time.Instant.parse(before.get("updatedAt").asText())), "updated_at moves");
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"name\":\"Ada\",\"email\":\"" + email + "\",\"status\":\"ACTIVE\",\"version\":" + before.get("version").asLong() + "}")
                .put("/customers/" + id).then(), 409, "concurrent-modification");
    }

    @Test
    void keyedAdjustmentsRepeatedConcurrentlyAreAppliedOnce() throws Exception {
        long id = createCustomer(uniqueEmail(), "0");
        String key = "adjust-" + id;

        List<HttpResponse<String>> responses = Http.concurrently(12, i -> adjustment(id, "5.00", key));

        Map<Integer, Long> statuses = responses.stream().collect(Collectors.groupingBy(HttpResponse::statusCode, Collectors.counting()));
        assertTrue(statuses.keySet().stream().allMatch(s -> s == 200 || s == 409), statuses.toString());
        for (HttpResponse<String> r : responses) {
            if (r.statusCode() == 409) {
                assertEquals("idempotency-key-in-use", JSON.readTree(r.body()).get("kind").asText());
                assertEquals("1", r.headers().firstValue("Retry-After").orElseThrow());
            }
        }
        List<HttpResponse<String>> applied = responses.stream()
                .filter(r -> r.statusCode() == 200 && r.headers().firstValue("Idempotency-Replayed").isEmpty()).toList();
        assertEquals(1, applied.size(), "exactly one request applied the adjustment: " + statuses);
        assertEquals(new BigDecimal("5.00"), balance(id));
        assertEquals(1, responses.stream().filter(r -> r.statusCode() == 200).map(HttpResponse::body).distinct().count(),
                "every replay shows the first response");

        // repeats after it committed are replays; the same key with another amount or customer is refused
        HttpResponse<String> repeat = Http.send(adjustment(id, "5.00", key));
        assertEquals(200, repeat.statusCode());
        assertEquals("true", repeat.headers().firstValue("Idempotency-Replayed").orElseThrow());
        assertEquals(applied.get(0).body(), repeat.body());
        assertEquals(422, Http.send(adjustment(id, "6.00", key)).statusCode());
        long other = createCustomer(uniqueEmail(), "0");
        HttpResponse<String> otherCustomer = Http.send(adjustment(other, "5.00", key));
        assertEquals(422, otherCustomer.statusCode());
        assertEquals("idempotency-key-reused", JSON.readTree(otherCustomer.body()).get("kind").asText());
        assertEquals(new BigDecimal("5.00"), balance(id));
        assertEquals(new BigDecimal("0.00"), balance(other));
    }

    @Test
    void aTwinOfARunningKeyedRequestIsAnsweredAtOnceWithoutHoldingAConnection() throws Exception {
        long id = createCustomer(uniqueEmail(), "0");
        String key = "twin-" + id;
        double lockRetries = Http.metric("bastion_db_retries_total", Map.of("kind", "lock-not-available"));
        CompletableFuture<HttpResponse<String>> first;
        HttpResponse<String> twin;
        try (SecondClient other = new SecondClient()) {
            other.lockCustomer(id);
            first = CompletableFuture.supplyAsync(() -> Http.send(adjustment(id, "7.00", key)));
            SecondClient.awaitServiceBlocked(5000);    // the first request holds the key and waits for the row

            twin = Http.send(adjustment(id, "7.00", key));
            // answered at once: while the first still waits for the row this test holds (no clock involved)
            assertFalse(first.isDone(), "the twin waited for the first request: " + twin.body());
            assertEquals(1, SecondClient.serviceBackendsWaitingForLocks().size(),
                    "only the first request waits in PostgreSQL; the twin holds no connection");
            other.commit();
        }
        HttpResponse<String> firstResponse = first.get(30, TimeUnit.SECONDS);

        assertEquals(409, twin.statusCode(), twin.body());
        JsonNode problem = JSON.readTree(twin.body());
        assertEquals("idempotency-key-in-use", problem.get("kind").asText());
        assertEquals("Idempotency-Key", problem.get("field").asText());
        assertEquals("1", twin.headers().firstValue("Retry-After").orElseThrow());
        assertEquals(0, Http.metric("bastion_db_retries_total", Map.of("kind", "lock-not-available")) - lockRetries, 0.001);

        assertEquals(200, firstResponse.statusCode(), firstResponse.body());
        HttpResponse<String> retried = Http.send(adjustment(id, "7.00", key));   // the twin, after Retry-After
        assertEquals(200, retried.statusCode());
        assertEquals("true", retried.headers().firstValue("Idempotency-Replayed").orElseThrow());
        assertEquals(firstResponse.body(), retried.body());
        assertEquals(new BigDecimal("7.00"), balance(id), "applied once");
    }

    @Test
    void aKeyStoresSuccessesOnlySoARefusedRequestIsEvaluatedAgain() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        String key = "refused-" + id;

        HttpResponse<String> refused = Http.send(adjustment(id, "-2.00", key));
        assertEquals(422, refused.statusCode(), refused.body());
        assertEquals("insufficient-credit", JSON.readTree(refused.body()).get("kind").asText());
        assertFalse(IdempotencyKeys.isStored(key), "a refusal is not stored with the key");
        HttpResponse<String> unknownCustomer = Http.send(adjustment(987654321L, "1.00", "missing-" + id));
        assertEquals(404, unknownCustomer.statusCode());
        assertFalse(IdempotencyKeys.isStored("missing-" + id));

        // the data changed: the same request with the same key is evaluated again, and applied once
        given().contentType(ContentType.JSON).body("{\"amount\":5}").post("/customers/" + id + "/credit-adjustments")
                .then().statusCode(200);
        HttpResponse<String> applied = Http.send(adjustment(id, "-2.00", key));
        assertEquals(200, applied.statusCode(), applied.body());
        assertTrue(applied.headers().firstValue("Idempotency-Replayed").isEmpty());
        assertTrue(IdempotencyKeys.isStored(key));
        HttpResponse<String> replayed = Http.send(adjustment(id, "-2.00", key));
        assertEquals("true", replayed.headers().firstValue("Idempotency-Replayed").orElseThrow());
        assertEquals(new BigDecimal("4.00"), balance(id));
        assertEquals(200, SecondClient.queryLong("SELECT response_status FROM idempotency_key WHERE idempotency_key = '" + key + "'"));
    }
}
