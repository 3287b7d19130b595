package dev.bastion.customer;

import static dev.bastion.testing.Customers.balance;
import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static dev.bastion.testing.Transfers.ledgerEntries;
import static dev.bastion.testing.Transfers.transferBody;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.ServerSettings;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

/**
 * Promises of the README and docs/failure-model.md that no other test made: each against the real
 * PostgreSQL, with the data read back.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class DocumentedPromisesTest {

    private static Response transfer(String body, String key) {
        var request = given().contentType("application/json").body(body);
        if (key != null) {
            request = request.header("Idempotency-Key", key);
        }
        return request.post("/customers/transfers");
    }

    @Test
    void aTransferToOrFromAClosedCustomerIsRefusedAndMovesNothing() throws Exception {
        long open = createCustomer(uniqueEmail(), "50.00");
        String email = uniqueEmail();
        long closed = createCustomer(email, "50.00");
        given().contentType("application/json")
                .body("{\"name\":\"Closed\",\"email\":\"" + email + "\",\"status\":\"CLOSED\",\"version\":0}")
                .put("/customers/" + closed).then().statusCode(200).body("status", equalTo("CLOSED"));

        transfer(transferBody(open, closed, "10.00"), null).then().statusCode(422)
                .contentType("application/problem+json").body("detail", containsString(String.valueOf(closed)));
        transfer(transferBody(closed, open, "10.00"), null).then().statusCode(422)
                .contentType("application/problem+json");
        assertEquals(0, ledgerEntries(open, closed) + ledgerEntries(closed, open));
        assertEquals(0, new BigDecimal("50.00").compareTo(balance(open)));
        assertEquals(0, new BigDecimal("50.00").compareTo(balance(closed)));
    }

    @Test
    void aReadAfterPositionMustBeAWalPositionAndIsHarmlessWhenReadsGoToTheWriter() throws Exception {
        long id = createCustomer(uniqueEmail(), "5.00");
        // one host, reads on the writer: writes carry no position, a position sent back changes nothing
        given().contentType("application/json").body("{\"amount\":\"1.00\"}").post("/customers/" + id + "/credit-adjustments")
                .then().statusCode(200).header("Bastion-Written-Position", org.hamcrest.Matchers.nullValue());
        given().header("Bastion-Read-After", "0/16B3748").get("/customers/" + id).then().statusCode(200)
                .body("creditBalance", equalTo(6.0f));
        given().header("Bastion-Read-After", "yesterday").get("/customers/" + id).then().statusCode(400)
                .contentType(containsString("problem+json")).body("detail", containsString("Bastion-Written-Position"));
    }

    @Test
    void anImportTakesAtMostOneHundredRows() throws Exception {
        String prefix = "import-cap-" + System.nanoTime();
        given().contentType("application/json").body(importOf(prefix, 101)).post("/customers/import")
                .then().statusCode(422).contentType("application/problem+json");
        assertEquals(0, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email LIKE '" + prefix + "%'"));
        given().contentType("application/json").body(importOf(prefix, 100)).post("/customers/import")
                .then().statusCode(200);
        assertEquals(100, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email LIKE '" + prefix + "%'"));
    }

    private static String importOf(String prefix, int rows) {
        List<String> customers = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            customers.add("{\"name\":\"Row " + i + "\",\"email\":\"" + prefix + "-" + i + "@example.org\"}");
        }
        return "{\"customers\":[" + String.join(",", customers) + "]}";
    }

    @Test
    void aKeyIsScopedToItsOperationAndAKeyedTransferIsReplayedNotRepeated() throws Exception {
        long from = createCustomer(uniqueEmail(), "100.00");
        long to = createCustomer(uniqueEmail(), "0");
        String key = "scoped-" + System.nanoTime();

        // the same key on a create: another operation, so another key
        given().contentType("application/json").header("Idempotency-Key", key)
                .body("{\"name\":\"Keyed\",\"email\":\"" + uniqueEmail() + "\"}").post("/customers").then().statusCode(201);

        Response first = transfer(transferBody(from, to, "30.00"), key);
        first.then().statusCode(200);
        Response again = transfer(transferBody(from, to, "30.00"), key);
        again.then().statusCode(200).header("Idempotency-Replayed", "true");
        assertEquals(first.jsonPath().getLong("id"), again.jsonPath().getLong("id"), "the stored answer, not a second transfer");
        assertEquals(1, ledgerEntries(from, to));
        assertEquals(0, new BigDecimal("70.00").compareTo(balance(from)));
        assertEquals(0, new BigDecimal("30.00").compareTo(balance(to)));
        // the same key with another request is refused
        transfer(transferBody(from, to, "31.00"), key).then().statusCode(422);
        assertEquals(1, ledgerEntries(from, to));
    }

    @Test
    void aNumericOverflowRaisedByPostgresqlIsInvalidDataNever500() throws Exception {
        long rich = createCustomer(uniqueEmail(), "999999999999.99");
        // within the API's own bounds, beyond NUMERIC(14, 2) once added: PostgreSQL raises 22003
        given().contentType("application/json").body("{\"amount\":999999999999.99}")
                .post("/customers/" + rich + "/credit-adjustments")
                .then().statusCode(422).contentType("application/problem+json").body("kind", equalTo("invalid-data"));
        assertEquals(0, new BigDecimal("999999999999.99").compareTo(balance(rich)));
    }

    @Test
    void aLockTimeoutRaisedByPostgresqlIsAnHonest503WithRetryAfter() throws Exception {
        long held = createCustomer(uniqueEmail(), "10.00");
        try (SecondClient other = new SecondClient()) {
            ServerSettings.set("lock_timeout", "200ms"); // a DBA's setting: every new session waits that long at most
            other.lockCustomer(held);
            Response answer = given().contentType("application/json").body("{\"amount\":5.00}")
                    .post("/customers/" + held + "/credit-adjustments");
            answer.then().statusCode(503).contentType("application/problem+json").body("kind", equalTo("lock-not-available"));
            assertTrue(answer.header("Retry-After") != null, "Retry-After");
        } finally {
            ServerSettings.reset("lock_timeout", "0");
        }
        assertEquals(0, new BigDecimal("10.00").compareTo(balance(held)), "nothing was applied");
        given().contentType("application/json").body("{\"amount\":5.00}")
                .post("/customers/" + held + "/credit-adjustments").then().statusCode(200);
        assertEquals(0, new BigDecimal("15.00").compareTo(balance(held)));
    }
}
