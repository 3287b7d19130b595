package dev.bastion.customer;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.rowsWithEmail;
import static dev.bastion.testing.Customers.uniqueEmail;
import static dev.bastion.testing.Problems.assertProblem;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bastion.api.CachedParameterNames;
import dev.bastion.api.IsoInstantJson;
import dev.bastion.testing.Http;
import dev.bastion.testing.IdempotencyKeys;
import dev.bastion.testing.PostgresResource;
import io.quarkus.arc.ClientProxy;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import jakarta.validation.ValidatorFactory;
import org.junit.jupiter.api.Test;

/**
 * Constraint violations produced by PostgreSQL itself (races and requests that skip Bean
 * Validation), mapped to clear API errors and counted.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ConstraintViolationTest {

    private static final String UNIQUE_SERIES = "bastion_db_constraint_violations_total";

    @Inject
    ObjectMapper json;

    /** Here rather than in CustomerApiTest, which also runs against the packaged service (no injection). */
    @Test
    void theServiceWritesInstantsWithItsOwnSerializer() throws Exception {
        assertEquals(IsoInstantJson.class.getName() + "$Serializer", json.getSerializerProviderInstance()
                .findValueSerializer(java.time.Instant.class).getClass().getName(), "IsoInstantJson ran after the JavaTimeModule");
        assertEquals("\"2026-12-05T22:01:17.123456Z\"", json.writeValueAsString(java.time.Instant.parse("2026-12-05T22:01:17.123456Z")));
    }

    @Test
    void concurrentCreatesWithTheSameEmailLeaveExactlyOneCustomer() throws Exception {
        String email = uniqueEmail();
        double before = Http.metric(UNIQUE_SERIES, Map.of("kind", "unique_violation", "constraint", "customer_email_lower_key"));
        int racers = 12;
        List<HttpResponse<String>> responses = Http.concurrently(racers, i -> Http.postJson("/customers",
                "{\"name\":\"Racer " + i + "\",\"email\":\"" + (i % 2 == 0 ? email : email.toUpperCase()) + "\"}").build());

        Map<Integer, Long> byStatus = responses.stream().collect(Collectors.groupingBy(HttpResponse::statusCode, Collectors.counting()));
        assertEquals(Map.of(201, 1L, 409, (long) racers - 1), byStatus, "exactly one create wins: " + byStatus);
        responses.stream().filter(r -> r.statusCode() == 409).forEach(r -> {
            assertTrue(r.body().contains("\"field\":\"email\""), r.body());
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/problem+json"));
        });
        assertEquals(1, rowsWithEmail(email));
        double after = Http.metric(UNIQUE_SERIES, Map.of("kind", "unique_violation", "constraint", "customer_email_lower_key"));
        assertEquals(racers - 1, after - before, 0.001, "every refused racer is counted");
    }

    @Test
    void checkAndNotNullViolationsFromTheDatabaseAre422WithTheField() {
        double checks = Http.metric(UNIQUE_SERIES, Map.of("kind", "check_violation"));
        double notNulls = Http.metric(UNIQUE_SERIES, Map.of("kind", "not_null_violation"));

        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"name\":\"Neg\",\"email\":\"" + uniqueEmail() + "\",\"creditBalance\":-1}")
                .post("/test-only/unvalidated-customers").then(), 422, "check-violation")
                .body("field", equalTo("creditBalance"))
                .body("suggestion", equalTo("Use a smaller amount, or add credit first."));
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"name\":\"   \",\"email\":\"" + uniqueEmail() + "\"}")
                .post("/test-only/unvalidated-customers").then(), 422, "check-violation")
                .body("field", equalTo("name"));
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"email\":\"" + uniqueEmail() + "\"}")
                .post("/test-only/unvalidated-customers").then(), 422, "not-null-violation")
                .body("suggestion", equalTo("Provide a value for the field."));

        assertEquals(2, Http.metric(UNIQUE_SERIES, Map.of("kind", "check_violation")) - checks, 0.001);
        assertEquals(1, Http.metric(UNIQUE_SERIES, Map.of("kind", "not_null_violation")) - notNulls, 0.001);
    }

    @Test
    void foreignKeyViolationsAreCountedToo() {
        double before = Http.metric(UNIQUE_SERIES, Map.of("kind", "foreign_key_violation", "constraint", "customer_note_customer_fk"));
        given().contentType(ContentType.JSON).body("{\"body\":\"x\"}").post("/customers/99999999/notes").then().statusCode(404);
        long id = createCustomer(uniqueEmail());
        given().contentType(ContentType.JSON).body("{\"body\":\"x\"}").post("/customers/" + id + "/notes").then().statusCode(201);
        given().delete("/customers/" + id).then().statusCode(409);
        double after = Http.metric(UNIQUE_SERIES, Map.of("kind", "foreign_key_violation", "constraint", "customer_note_customer_fk"));
        assertEquals(2, after - before, 0.001);
    }

    @Test
    void concurrentRetriesWithOneIdempotencyKeyCreateOneCustomer() throws Exception {
        String email = uniqueEmail();
        String key = "key-" + email;
        String body = "{\"name\":\"Idem Potent\",\"email\":\"" + email + "\"}";
        List<HttpResponse<String>> responses = Http.concurrently(10, i -> Http.postJson("/customers", body)
                .header("Idempotency-Key", key).build());

        // which answer a twin gets depends on when it arrives: 409 + Retry-After while the first still runs, else the
        // replay. Either is right here; the 409 itself is forced (the first held on a row lock) in
        // CreditContentionTest.aTwinOfARunningKeyedRequestIsAnsweredAtOnceWithoutHoldingAConnection
        responses.forEach(r -> assertTrue(r.statusCode() == 201
                || r.statusCode() == 409 && r.body().contains("\"kind\":\"idempotency-key-in-use\"")
                && r.headers().firstValue("Retry-After").isPresent(), r.statusCode() + " " + r.body()));
        List<HttpResponse<String>> created = responses.stream().filter(r -> r.statusCode() == 201).toList();
        assertEquals(1, created.stream().map(HttpResponse::body).distinct().count(), "every retry sees the same response");
        created.forEach(r -> { // the stored JSON object as it was written, not a JSON string of it
            assertTrue(r.body().startsWith("{\"id\":"), r.body());
            assertTrue(r.headers().firstValue("Content-Type").orElseThrow().startsWith("application/json"));
        });
        assertEquals(1, created.stream().map(r -> r.headers().firstValue("Location").orElseThrow()).distinct().count());
        assertEquals(1, created.stream().filter(r -> r.headers().firstValue("Idempotency-Replayed").isEmpty()).count(),
                "one request created, the others replayed or were asked to come back");
        assertEquals(1, rowsWithEmail(email));

        // a later retry is replayed too; the same key with another body is refused
        given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(body).post("/customers")
                .then().statusCode(201).header("Idempotency-Replayed", "true");
        assertProblem(given().contentType(ContentType.JSON).header("Idempotency-Key", key)
                .body("{\"name\":\"Someone Else\",\"email\":\"" + uniqueEmail() + "\"}")
                .post("/customers").then(), 422, "idempotency-key-reused")
                .body("field", equalTo("Idempotency-Key"));
        assertEquals(1, rowsWithEmail(email));
    }

    @Test
    void aFailedKeyedRequestStoresNothingSoItsRetryRunsAgain() throws Exception {
        String taken = uniqueEmail();
        createCustomer(taken);
        String key = "fail-then-retry-" + taken;
        given().contentType(ContentType.JSON).header("Idempotency-Key", key)
                .body("{\"name\":\"Dup\",\"email\":\"" + taken + "\"}").post("/customers").then().statusCode(409);
        assertFalse(IdempotencyKeys.isStored(key), "the key rolled back with the failed create");
    }

    @Test
    void expiredKeysCanBeReused() throws Exception {
        String email = uniqueEmail();
        String key = "expiring-" + email;
        given().contentType(ContentType.JSON).header("Idempotency-Key", key)
                .body("{\"name\":\"Old\",\"email\":\"" + email + "\"}").post("/customers").then().statusCode(201);
        try (Connection c = PostgresResource.connect();
             PreparedStatement s = c.prepareStatement("UPDATE idempotency_key SET expires_at = now() - interval '1 second' WHERE idempotency_key = ?")) {
            s.setString(1, key);
            assertEquals(1, s.executeUpdate());
        }
        String other = uniqueEmail();
        given().contentType(ContentType.JSON).header("Idempotency-Key", key)
                .body("{\"name\":\"New\",\"email\":\"" + other + "\"}").post("/customers")
                .then().statusCode(201).body("email", equalTo(other));
    }

    @Test
    void theLargestImportTheApiAllowsFitsTheBodyLimit() throws Exception {
        // 100 rows (the cap) with 200-character names (the field's limit) in a script of 3 bytes per character
        String name = "顧客名".repeat(67).substring(0, 200);
        StringBuilder body = new StringBuilder("{\"customers\":[");
        List<String> emails = new java.util.ArrayList<>();
        for (int i = 0; i < 100; i++) {
            String email = uniqueEmail();
            emails.add(email);
            body.append(i == 0 ? "" : ",").append("{\"name\":\"").append(name).append("\",\"email\":\"").append(email).append("\"}");
        }
        body.append("]}");
        assertTrue(body.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 64 * 1024,
                "larger than the old 64K limit");
        given().contentType("application/json; charset=UTF-8").body(body.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .post("/customers/import").then().statusCode(200)
                .body("created.size()", equalTo(100)).body("rejected.size()", equalTo(0));
        for (String email : List.of(emails.get(0), emails.get(99))) {
            assertEquals(1, rowsWithEmail(email));
        }
        // one row more than the cap is the caller's mistake
        given().contentType(ContentType.JSON).body(body.toString().replace("]}", "," + "{\"name\":\"x\",\"email\":\""
                        + uniqueEmail() + "\"}]}"))
                .post("/customers/import").then().statusCode(422);
    }

    @Test
    void aKeyedImportIsAppliedOnceAndItsRepeatGetsTheFirstReport() throws Exception {
        String first = uniqueEmail();
        String second = uniqueEmail();
        String body = "{\"customers\":[{\"name\":\"One\",\"email\":\"" + first + "\",\"creditBalance\":10},"
                + "{\"name\":\"Two\",\"email\":\"" + second + "\"}]}";
        String key = "import-" + first;
        String report = given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(body)
                .post("/customers/import").then().statusCode(200)
                .header("Idempotency-Replayed", (String) null)
                .body("created.size()", equalTo(2)).body("rejected.size()", equalTo(0))
                .extract().asString();
        String repeat = given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(body)
                .post("/customers/import").then().statusCode(200)
                .header("Idempotency-Replayed", "true")
                .extract().asString();
        assertEquals(report, repeat, "the repeat gets the first report, not two 'email taken' rejections");
        assertEquals(1, rowsWithEmail(first));
        assertEquals(1, rowsWithEmail(second));
    }

    @Inject
    ValidatorFactory validation;

    @Test
    void invalidIdempotencyKeysAreRejected() {
        assertProblem(given().contentType(ContentType.JSON).header("Idempotency-Key", "x".repeat(201))
                .body("{\"name\":\"K\",\"email\":\"" + uniqueEmail() + "\"}").post("/customers").then(), 400, "validation")
                .body("field", equalTo("Idempotency-Key"));
        // the parameter's name in the violation path came from the service's cached provider, read once per method
        assertInstanceOf(CachedParameterNames.class, ClientProxy.unwrap(validation.getParameterNameProvider()));
    }
}
