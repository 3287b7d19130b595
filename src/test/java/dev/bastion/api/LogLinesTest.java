package dev.bastion.api;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import dev.bastion.testing.CapturedLogs;
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
        try (CapturedLogs logs = CapturedLogs.start()) {
            given().contentType(ContentType.JSON).body("{\"name\":\"Again\",\"email\":\"" + email + "\"}")
                    .post("/customers").then().statusCode(409);
            given().contentType(ContentType.JSON).body("{\"amount\":-1000000}")
                    .post("/customers/" + id + "/credit-adjustments").then().statusCode(422);
            given().contentType(ContentType.JSON).body("{\"body\":\"note\"}")
                    .post("/customers/999999999/notes").then().statusCode(404);
            Thread.sleep(200); // lines written after the response was sent would still count
            List<CapturedLogs.Line> lines = logs.lines();
            assertEquals(List.of(), lines, "handled outcomes must stay out of WARN");
        }
        // the row is still the only one with that email
        given().get("/customers?email=" + email).then().statusCode(200)
                .body("items.size()", org.hamcrest.Matchers.equalTo(1))
                .body("items[0].id", org.hamcrest.Matchers.equalTo((int) id));
    }
}
