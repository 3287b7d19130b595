package dev.bastion.customer;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static dev.bastion.testing.Problems.assertProblem;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.hamcrest.Matchers.allOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.is;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;

import java.util.List;

import dev.bastion.testing.Management;
import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

/** The customer API end to end against a real PostgreSQL: happy paths and every bad-input error. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
public class CustomerApiTest {

    @Test
    void requestMetricsNameTheRouteNotThePath() {
        long id = createCustomer(uniqueEmail());
        given().get("/customers/" + id).then().statusCode(200);
        given().get("/customers/987654321").then().statusCode(404);
        String metrics = Management.given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertTrue(metrics.matches("(?s).*http_server_requests_seconds_count\\{[^}]*status=\"200\"[^}]*uri=\"/customers/\\{id\\}\".*"),
                "a read is counted under its route");
        assertTrue(metrics.matches("(?s).*http_server_requests_seconds_count\\{[^}]*status=\"404\"[^}]*uri=\"/customers/\\{id\\}\".*"),
                "a read of no customer under its route");
        assertFalse(metrics.matches("(?s).*uri=\"/customers/\\d+.*"), "no series per customer id");
    }

    @Test
    void clientErrorsOfARouteWithoutParametersAreCountedUnderThatRoute() {
        // Quarkus counts a 4xx under its path only when the route's template differs from the path itself
        given().contentType(ContentType.JSON).body("{\"name\":\"\",\"email\":\"not-an-email\"}").post("/customers")
                .then().statusCode(422);
        given().contentType(ContentType.JSON).body("{").post("/customers").then().statusCode(400);
        given().get("/customers?page=-1").then().statusCode(400);
        given().get("/no-such-route-" + uniqueEmail()).then().statusCode(404);
        String metrics = Management.given().get("/q/metrics").then().statusCode(200).extract().asString();
        for (String status : new String[] {"422", "400"}) {
            assertTrue(metrics.matches("(?s).*http_server_requests_seconds_count\\{method=\"POST\"[^}]*status=\"" + status
                    + "\"[^}]*uri=\"/customers\".*"), "a " + status + " of POST /customers under its route");
        }
        assertTrue(metrics.matches("(?s).*http_server_requests_seconds_count\\{method=\"GET\"[^}]*status=\"400\"[^}]*uri=\"/customers\".*"),
                "a 400 of GET /customers under its route");
        assertFalse(metrics.contains("no-such-route"), "a path no route matched became a series of its own");
    }

    @Test
    void aMadeUpHttpMethodIsNotASeriesOfItsOwn() {
        // any token is a method to Vert.x: a client inventing one per request must not grow the metrics
        int status = given().request("BREWCOFFEE", "/customers").then().extract().statusCode();
        String metrics = Management.given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertFalse(metrics.contains("BREWCOFFEE"), "a made-up method became a series of its own");
        assertTrue(metrics.matches("(?s).*http_server_requests_seconds_count\\{method=\"UNKNOWN\"[^}]*status=\"" + status + "\".*"),
                "a made-up method is counted under method=\"UNKNOWN\"");
    }

    @Test
    void timestampsAreTheDatabasesOwnInIso8601() throws Exception {
        var read = given().get("/customers/" + createCustomer(uniqueEmail())).then().statusCode(200).extract();
        String createdAt = read.jsonPath().getString("createdAt");
        // the text Instant.toString() (and Jackson's own serializer) give the database's microsecond value
        try (var db = PostgresResource.connect(); var query = db.prepareStatement(
                "SELECT created_at, updated_at FROM customer WHERE id = ?")) {
            query.setLong(1, read.jsonPath().getLong("id"));
            try (var row = query.executeQuery()) {
                assertTrue(row.next());
                assertEquals(row.getObject(1, java.time.OffsetDateTime.class).toInstant().toString(), createdAt);
                assertEquals(row.getObject(2, java.time.OffsetDateTime.class).toInstant().toString(),
                        read.jsonPath().getString("updatedAt"));
            }
        }
        assertTrue(createdAt.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{3}|\\.\\d{6})?Z"), createdAt);
    }

    @Test
    void createsReadsUpdatesAndDeletesACustomer() {
        String email = uniqueEmail();
        var created = given().contentType(ContentType.JSON)
                .body("{\"name\":\"Grace Hopper\",\"email\":\"" + email + "\",\"phone\":\"+1 555 0100\",\"creditBalance\":12.50}")
                .post("/customers")
                .then().statusCode(201)
                .header("Location", allOf(startsWith("http://"), containsString("/customers/"))) // absolute, as before
                .body("name", equalTo("Grace Hopper"))
                .body("email", equalTo(email))
                .body("phone", equalTo("+1 555 0100"))
                .body("status", equalTo("ACTIVE"))
                .body("creditBalance", equalTo(12.5f))
                .body("version", equalTo(0))
                .body("createdAt", notNullValue())
                .body("updatedAt", notNullValue())
                .extract();
        long id = created.jsonPath().getLong("id");
        String location = created.header("Location");
        // the request's own scheme, host, port and path, and the new id: absolute, as before
        assertEquals("http://localhost:" + RestAssured.port + "/customers/" + id, location);
        String viaHost = given().contentType(ContentType.JSON).header("Host", "api.example:8443")
                .body("{\"name\":\"Ada\",\"email\":\"" + uniqueEmail() + "\"}").post("/customers/")
                .then().statusCode(201).extract().header("Location");
        assertTrue(viaHost.matches("http://api\\.example:8443/customers/\\d+"), "the caller's Host, one slash: " + viaHost);

        given().get(location).then().statusCode(200).body("id", equalTo((int) id)).body("email", equalTo(email));

        given().contentType(ContentType.JSON)
                .body("{\"name\":\"Grace B. Hopper\",\"email\":\"" + email + "\",\"status\":\"SUSPENDED\",\"version\":0}")
                .put("/customers/" + id)
                .then().statusCode(200)
                .body("name", equalTo("Grace B. Hopper"))
                .body("status", equalTo("SUSPENDED"))
                .body("phone", nullValue())
                .body("version", equalTo(1));

        given().delete("/customers/" + id).then().statusCode(204);
        assertProblem(given().get("/customers/" + id).then(), 404, "customer-not-found").body("field", equalTo("id"));
        assertProblem(given().delete("/customers/" + id).then(), 404, "customer-not-found");
    }

    @Test
    void listsCustomersInStablePagesAndFindsByEmailIgnoringCase() {
        String email = uniqueEmail();
        long id = createCustomer(email);
        createCustomer(uniqueEmail());
        createCustomer(uniqueEmail());

        var page0 = given().queryParam("page", 0).queryParam("size", 2).queryParam("count", true).get("/customers")
                .then().statusCode(200)
                .body("items", hasSize(2))
                .body("size", equalTo(2))
                .body("totalItems", greaterThan(2))
                .extract().jsonPath();
        var page1 = given().queryParam("page", 1).queryParam("size", 2).get("/customers")
                .then().statusCode(200).extract().jsonPath();
        long lastOfFirst = page0.getLong("items[1].id");
        long firstOfSecond = page1.getLong("items[0].id");
        org.junit.jupiter.api.Assertions.assertTrue(page0.getLong("items[0].id") < lastOfFirst);
        org.junit.jupiter.api.Assertions.assertTrue(lastOfFirst < firstOfSecond, "pages are in id order without overlap");

        given().queryParam("email", email.toUpperCase()).get("/customers")
                .then().statusCode(200)
                .body("items", hasSize(1))
                .body("items[0].id", equalTo((int) id));
    }

    @Test
    void pageSizeIsBounded() {
        assertProblem(given().queryParam("size", 1000).get("/customers").then(), 400, "validation")
                .body("errors.field", hasItem("size"));
        assertProblem(given().queryParam("page", -1).get("/customers").then(), 400, "validation");
    }

    @Test
    void duplicateEmailIsAConflictWhateverTheCase() {
        String email = uniqueEmail();
        createCustomer(email);
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"name\":\"Other\",\"email\":\"" + email.toUpperCase() + "\"}")
                .post("/customers").then(), 409, "unique-violation")
                .body("field", equalTo("email"))
                .body("suggestion", containsString("GET /customers?email="));
    }

    @Test
    void updateWithAStaleVersionIsAConflict() {
        String email = uniqueEmail();
        long id = createCustomer(email);
        String body = "{\"name\":\"First\",\"email\":\"" + email + "\",\"status\":\"ACTIVE\",\"version\":0}";
        given().contentType(ContentType.JSON).body(body).put("/customers/" + id).then().statusCode(200).body("version", equalTo(1));
        assertProblem(given().contentType(ContentType.JSON).body(body).put("/customers/" + id).then(),
                409, "concurrent-modification")
                .body("field", equalTo("version"))
                .body("suggestion", containsString("GET /customers/" + id));
        given().get("/customers/" + id).then().body("version", equalTo(1)).body("name", equalTo("First"));
    }

    @Test
    void anUpdateThatChangesNothingKeepsTheVersion() {
        String email = uniqueEmail();
        long id = createCustomer(email);
        String created = given().get("/customers/" + id).then().statusCode(200).extract().path("updatedAt");
        String body = "{\"name\":\"Ada Lovelace\",\"email\":\"" + email + "\",\"status\":\"ACTIVE\",\"version\":0}";
        given().contentType(ContentType.JSON).body(body).put("/customers/" + id).then().statusCode(200)
                .body("version", equalTo(0)).body("updatedAt", equalTo(created));
        // so a client that read version 0 can still save its change
        given().contentType(ContentType.JSON).body(body.replace("Ada Lovelace", "Renamed")).put("/customers/" + id).then()
                .statusCode(200).body("version", equalTo(1)).body("name", equalTo("Renamed"));
    }

    @Test
    void updateOfAnUnknownCustomerIs404() {
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"name\":\"X\",\"email\":\"x@example.org\",\"status\":\"ACTIVE\",\"version\":0}")
                .put("/customers/987654321").then(), 404, "customer-not-found");
    }

    @Test
    void malformedJsonIs400() {
        assertProblem(given().contentType(ContentType.JSON).body("{\"name\": \"x\", ")
                .post("/customers").then(), 400, "malformed-request")
                .body("detail", containsString("not valid JSON"));
        assertProblem(given().contentType(ContentType.JSON).body("[1,2]")
                .post("/customers").then(), 400, "malformed-request");
    }

    @Test
    void wrongTypesAre400WithTheField() {
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"name\":\"x\",\"email\":\"x@example.org\",\"creditBalance\":\"lots\"}")
                .post("/customers").then(), 400, "malformed-request")
                .body("field", equalTo("creditBalance"))
                .body("detail", containsString("a number"));
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"name\":\"x\",\"email\":\"x@example.org\",\"status\":\"SLEEPING\"}")
                .post("/customers").then(), 400, "malformed-request")
                .body("field", equalTo("status"))
                .body("detail", allOf(containsString("ACTIVE"), containsString("CLOSED")));
    }

    @Test
    void missingAndInvalidFieldsAre422() {
        assertProblem(given().contentType(ContentType.JSON).body("{\"phone\":\"12\"}")
                .post("/customers").then(), 422, "validation")
                .body("errors.field", hasItem("name"))
                .body("errors.field", hasItem("email"))
                .body("errors.field", hasItem("phone"));
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"name\":\"x\",\"email\":\"not-an-email\",\"creditBalance\":-5}")
                .post("/customers").then(), 422, "validation")
                .body("errors.field", hasItem("email"))
                .body("errors.field", hasItem("creditBalance"));
        assertProblem(given().contentType(ContentType.JSON).post("/customers").then(), 400, "validation")
                .body("detail", containsString("a JSON body is required"));
    }

    @Test
    void validationErrorsNameTheFieldAsTheCallerWroteIt() {
        assertProblem(given().contentType(ContentType.JSON)
                .body("{\"customers\":[{\"name\":\"A\",\"email\":\"a@example.org\"},{\"name\":\"B\",\"email\":\"nope\"}]}")
                .post("/customers/import").then(), 422, "validation")
                .body("errors.field", hasItem("customers[1].email"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"from\":1,\"to\":1,\"amount\":1}")
                .post("/customers/transfers").then(), 422, "validation")
                .body("field", equalTo("to"));
    }

    @Test
    void nonNumericIdsAreNotFound() {
        given().get("/customers/abc").then().statusCode(404).contentType("application/problem+json");
        given().get("/customers/..%2F..%2Fetc%2Fpasswd").then().statusCode(404);
    }

    @Test
    void unsupportedMediaTypeIs415() {
        given().contentType(ContentType.TEXT).body("name=x").post("/customers")
                .then().statusCode(415).contentType("application/problem+json").body("status", equalTo(415));
    }

    @Test
    void notesBelongToCustomers() {
        long id = createCustomer(uniqueEmail());
        String location = given().contentType(ContentType.JSON).body("{\"body\":\"prefers email\"}")
                .post("/customers/" + id + "/notes")
                .then().statusCode(201)
                .body("customerId", equalTo((int) id))
                .body("body", equalTo("prefers email"))
                .extract().header("Location");
        given().get(location).then().statusCode(200).body("body", equalTo("prefers email"));
        given().get("/customers/" + id + "/notes").then().statusCode(200)
                .body("items", hasSize(1)).body("totalItems", equalTo(1));
        assertProblem(given().contentType(ContentType.JSON).body("{\"body\":\"\"}")
                .post("/customers/" + id + "/notes").then(), 422, "validation").body("field", equalTo("body"));
        given().delete(location).then().statusCode(204);
        assertProblem(given().get(location).then(), 404, "note-not-found");
        assertProblem(given().get("/customers/987654321/notes").then(), 404, "customer-not-found");
    }

    @Test
    void aNoteForAMissingCustomerIs404FromTheForeignKey() {
        assertProblem(given().contentType(ContentType.JSON).body("{\"body\":\"orphan\"}")
                .post("/customers/987654321/notes").then(), 404, "customer-not-found")
                .body("field", equalTo("customerId"))
                .body("suggestion", containsString("POST /customers"));
    }

    @Test
    void deletingACustomerWithNotesIsAConflictThatSuggestsClosing() {
        long id = createCustomer(uniqueEmail());
        given().contentType(ContentType.JSON).body("{\"body\":\"vip\"}").post("/customers/" + id + "/notes")
                .then().statusCode(201);
        assertProblem(given().delete("/customers/" + id).then(), 409, "foreign-key-violation")
                .body("suggestion", containsString("CLOSED"));
        given().get("/customers/" + id).then().statusCode(200);
    }

    @Test
    void creditCannotGoNegative() {
        long id = createCustomer(uniqueEmail(), "10.00");
        given().contentType(ContentType.JSON).body("{\"amount\":-4.50}")
                .post("/customers/" + id + "/credit-adjustments")
                .then().statusCode(200).body("creditBalance", equalTo(5.5f)).body("version", equalTo(1));
        assertProblem(given().contentType(ContentType.JSON).body("{\"amount\":-6}")
                .post("/customers/" + id + "/credit-adjustments").then(), 422, "insufficient-credit")
                .body("field", equalTo("amount"));
        given().get("/customers/" + id).then().body("creditBalance", equalTo(5.5f));
    }

    @Test
    void listingIsBoundedAndContinuesByKey() {
        List<Long> created = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            created.add(createCustomer(uniqueEmail()));
        }
        long before = created.get(0) - 1;

        // by key: every customer after `before`, in id order, 2 at a time, with no count unless asked
        List<Long> seen = new java.util.ArrayList<>();
        Long after = before;
        while (after != null && seen.size() < created.size()) {
            var page = given().queryParam("after", after).queryParam("size", 2).get("/customers")
                    .then().statusCode(200)
                    .body("page", nullValue())
                    .body("totalItems", nullValue())
                    .body("totalPages", nullValue())
                    .extract().jsonPath();
            List<Long> ids = page.getList("items.id", Long.class);
            seen.addAll(ids);
            after = page.getObject("nextAfter", Long.class);
            if (after != null) {
                org.junit.jupiter.api.Assertions.assertEquals(ids.get(ids.size() - 1), after);
            }
        }
        org.junit.jupiter.api.Assertions.assertEquals(created, seen.subList(0, created.size()),
                "keyset pages continue exactly where the previous one ended");

        given().queryParam("after", before).queryParam("size", 2).queryParam("count", true).get("/customers")
                .then().statusCode(200).body("totalItems", greaterThan(4)).body("totalPages", greaterThan(1));

        // offset paging stops at 10,000 rows deep: beyond it a clear 400, pointing at keyset paging
        given().queryParam("page", 100).queryParam("size", 100).get("/customers").then().statusCode(200);
        assertProblem(given().queryParam("page", 101).queryParam("size", 100).get("/customers").then(), 400, "page-too-deep")
                .body("field", equalTo("page"))
                .body("suggestion", containsString("after="));
        assertProblem(given().queryParam("page", 1_000_000).queryParam("size", 100).get("/customers").then(), 400, "validation")
                .body("field", equalTo("page"));
        assertProblem(given().queryParam("page", 2).queryParam("after", before).get("/customers").then(), 400, "validation")
                .body("field", equalTo("after"));
        assertProblem(given().queryParam("after", -1).get("/customers").then(), 400, "validation")
                .body("field", equalTo("after"));
    }

    @Test
    void healthMetricsAndOpenApiAreServedOnTheManagementPortOnly() {
        Management.given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        Management.given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"))
                .body("checks.find { it.name == 'database' }.status", is("UP"));
        createCustomer(uniqueEmail());
        Management.given().get("/q/metrics").then().statusCode(200)
                .body(containsString("sql_pool_"))
                .body(containsString("bastion_db_transactions_seconds_count"))
                // the breaker's state is Bastion's own gauge; SmallRye FT's per-call ft_* series are off
                .body(containsString("bastion_db_circuit_breaker_state"))
                .body(not(containsString("ft_invocations_total")));
        Management.given().accept("application/json").get("/q/openapi").then().statusCode(200)
                .body("paths.'/customers'", notNullValue());
        // the API port, which an ingress exposes, serves none of them
        for (String path : List.of("/q/health/ready", "/q/health/live", "/q/metrics", "/q/openapi")) {
            given().get(path).then().statusCode(404).body(not(containsString("checks")))
                    .body(not(containsString("sql_pool_")));
        }
        // and the management port serves no API
        Management.given().get("/customers").then().statusCode(404);
    }

    @Test
    void unknownPathsAreProblems() {
        given().get("/nothing-here").then().statusCode(404);
        given().contentType(ContentType.JSON).body("{}").patch("/customers/1").then().statusCode(405)
                .body("status", equalTo(405));
    }

    @Test
    void noResponseLeaksInternals() {
        // a number no column can hold is the caller's mistake, refused before the database: never saved, never a 5xx
        given().contentType(ContentType.JSON).body("{\"name\":\"x\",\"email\":\"too-large-credit@example.org\",\"creditBalance\":1e400}")
                .post("/customers").then().statusCode(422)
                .body(not(containsString("Exception")));
        given().get("/customers?email=too-large-credit@example.org").then().statusCode(200).body("items", hasSize(0));
        given().get("/customers").then().body("items.id", everyItem(notNullValue()))
                .header("Content-Type", startsWith("application/json"));
    }
}
