package dev.bastion.api;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import dev.bastion.testing.CapturedLogs;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

/** Outcomes the API handles (a 409, a 422, a 404) write nothing at WARN or above. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class LogLinesTest {

    @Test
    void aHandledConstraintViolationWritesNoWarning() throws Exception {
        String email = uniqueEmail();
        long id = createCustomer(email);
        double before = handledExchanges();
        try (CapturedLogs logs = CapturedLogs.start()) {
            given().contentType(ContentType.JSON).body("{\"name\":\"Again\",\"email\":\"" + email + "\"}")
                    .post("/customers").then().statusCode(409);
            given().contentType(ContentType.JSON).body("{\"amount\":-1000000}")
                    .post("/customers/" + id + "/credit-adjustments").then().statusCode(422);
            given().contentType(ContentType.JSON).body("{\"body\":\"note\"}")
                    .post("/customers/999999999/notes").then().statusCode(404);
            // lines written while a unit of work ends would still count: wait until the service ended all three
            assertTrue(finished(before + 3), "the server never finished the three exchanges");
            List<CapturedLogs.Line> lines = logs.lines();
            assertEquals(List.of(), lines, "handled outcomes must stay out of WARN");
        }
        // the row is still the only one with that email
        given().get("/customers?email=" + email).then().statusCode(200)
                .body("items.size()", org.hamcrest.Matchers.equalTo(1))
                .body("items[0].id", org.hamcrest.Matchers.equalTo((int) id));
    }

    /** Units of work ended, as the service records them once each request's database work is over. */
    private static double handledExchanges() {
        return Http.metric("bastion_db_transactions_seconds_count", Map.of());
    }

    private static boolean finished(double count) throws InterruptedException {
        long end = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < end) {
            if (handledExchanges() >= count) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }
}
