package dev.bastion.admin;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasKey;
import static org.hamcrest.Matchers.in;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Incidents;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;

/** The operators' endpoints: access control, and real figures after a scripted incident. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
public class AdminApiTest {

    /** A count of a report, 0 while the report has no such key yet. */
    private static long count(io.restassured.path.json.JsonPath report, String path) {
        Number value = report.get(path);
        return value == null ? 0 : value.longValue();
    }

    static RequestSpecification asAdmin() {
        return given().auth().oauth2(AdminTokens.admin());
    }

    @Test
    void refusesCallersWithoutTheAdminRole() {
        for (String path : List.of("/admin/database/health", "/admin/database/metrics", "/admin/database/connection-pool",
                "/admin/database/deadlocks")) {
            given().get(path).then().statusCode(401)
                    .contentType("application/problem+json").body("kind", equalTo("unauthorized"));
            given().auth().oauth2("not-a-jwt").get(path).then().statusCode(401);
            given().auth().oauth2(AdminTokens.withGroups("user")).get(path).then().statusCode(403)
                    .contentType("application/problem+json").body("kind", equalTo("forbidden"));
        }
        given().post("/admin/database/diagnostics").then().statusCode(401);
        given().auth().oauth2(AdminTokens.withGroups("user")).post("/admin/database/diagnostics").then().statusCode(403);
    }

    @Test
    void refusesTokensThatFailVerification() {
        asAdmin().get("/admin/database/deadlocks").then().statusCode(200);
        Map<String, String> refused = Map.of(
                "signed by another key", AdminTokens.signedByAnotherKey(),
                "from another issuer", AdminTokens.fromIssuer("https://attacker.example/issuer"),
                "expired", AdminTokens.expired(),
                "for another audience", AdminTokens.forAudience("https://another-service.example"));
        refused.forEach((why, token) -> {
            var response = given().auth().oauth2(token).get("/admin/database/health");
            assertEquals(401, response.statusCode(), "a token " + why + " must be refused with 401");
            assertEquals("application/problem+json", response.contentType(), why);
            assertEquals("unauthorized", response.jsonPath().getString("kind"), why);
            assertEquals("Bearer", response.header("WWW-Authenticate"), why);
            assertEquals(401, given().auth().oauth2(token).post("/admin/database/diagnostics").statusCode(), why);
        });
    }

    @Test
    void reportsMeasuredFiguresAfterAScriptedIncident() throws Exception {
        long a = createCustomer(uniqueEmail(), "100.00");
        long b = createCustomer(uniqueEmail(), "100.00");
        String taken = uniqueEmail();
        createCustomer(taken);

        // the figures before: other test classes share this application, so each check below measures the
        // difference this test's incident makes, not a count others may have reached already
        var healthBefore = asAdmin().get("/admin/database/health").then().statusCode(200).extract().jsonPath();
        long serverErrorsBefore = count(healthBefore, "performance.error_rate_per_hour");
        long slowBefore = count(healthBefore, "performance.slow_transactions_24h");
        long deadlocksBefore = count(healthBefore, "reliability.deadlocks_24h");
        long uniqueBefore = count(healthBefore, "reliability.constraint_violations_24h.unique_violation");
        var contentionBefore = asAdmin().get("/admin/database/deadlocks").then().statusCode(200).extract().jsonPath();
        long recoveredBefore = count(contentionBefore, "recovered_24h");
        long transferContentionBefore = count(contentionBefore, "by_operation_24h.'customer.transfer'");

        // the incident: a deadlock, a unique violation and a slow transaction, all real
        assertEquals(200, Incidents.deadlockedTransfer(a, b, "1.00").statusCode());
        given().contentType(ContentType.JSON).body("{\"name\":\"Dup\",\"email\":\"" + taken + "\"}").post("/customers")
                .then().statusCode(409);
        assertEquals(200, Incidents.slowTransfer(a, b, "1.00", 1200).statusCode());

        String health = asAdmin().get("/admin/database/health").then().statusCode(200)
                .body("summary.status", in(List.of("healthy", "degraded")))
                .body("summary.timestamp", notNullValue())
                .body("summary.database_reachable", equalTo(true))
                .body("connection_pool.total_connections", greaterThanOrEqualTo(1))
                .body("connection_pool.total_connections", org.hamcrest.Matchers.lessThan(50))
                .body("connection_pool.idle_connections", greaterThanOrEqualTo(0))
                .body("connection_pool.waiting_connections", greaterThanOrEqualTo(0))
                .body("connection_pool.utilization_percent", greaterThanOrEqualTo(0f))
                .body("connection_pool.overflow_connections", greaterThanOrEqualTo(0))
                .body("performance.avg_transaction_time_ms", greaterThan(0f))
                .body("performance.slow_transactions_24h", greaterThanOrEqualTo((int) slowBefore + 1))
                .body("performance", not(hasKey("avg_query_time_ms")))
                // a 409 and a deadlock that a retry resolved are not server-side database errors
                .body("performance.error_rate_per_hour", equalTo((int) serverErrorsBefore))
                .body("reliability.deadlocks_24h", greaterThanOrEqualTo((int) deadlocksBefore + 1))
                .body("reliability.deadlock_severity", in(List.of("low", "medium", "high")))
                .body("reliability.recovery_success_rate", greaterThan(0f))
                .body("reliability.constraint_violations_24h.unique_violation", greaterThanOrEqualTo((int) uniqueBefore + 1))
                .body("recommendations.size()", greaterThan(0))
                .body("alerts", notNullValue())
                .extract().asString();
        assertNoSecrets(health);

        asAdmin().get("/admin/database/deadlocks").then().statusCode(200)
                .body("last_24h", greaterThanOrEqualTo((int) deadlocksBefore + 1))
                .body("recovered_24h", greaterThanOrEqualTo((int) recoveredBefore + 1))
                .body("severity", in(List.of("low", "medium", "high")))
                .body("by_operation_24h.'customer.transfer'", greaterThanOrEqualTo((int) transferContentionBefore + 1))
                .body("recent.operation", hasItem("customer.transfer"))
                .body("recommendations", hasItem(containsString("FOR UPDATE")))
                .body("recommendations[0]", containsString("absorbed"));

        String metrics = asAdmin().get("/admin/database/metrics").then().statusCode(200)
                .body("transactions.units_24h", greaterThan(0))
                .body("recent_constraint_violations.kind", hasItem("UNIQUE_VIOLATION"))
                .body("connection_pool.max_size", equalTo(50))
                .extract().asString();
        assertNoSecrets(metrics);

        asAdmin().get("/admin/database/connection-pool").then().statusCode(200)
                .body("settings.pool_size", equalTo(20))
                .body("settings.max_overflow", equalTo(30))
                .body("pool.total", greaterThanOrEqualTo(1));
    }

    @Test
    void diagnosticsSeeTheServerAndTheLockWaitsOfTheService() throws Exception {
        long a = createCustomer(uniqueEmail(), "10.00");
        long b = createCustomer(uniqueEmail(), "10.00");
        CompletableFuture<HttpResponse<String>> transfer;
        String report;
        try (SecondClient other = new SecondClient()) {
            other.lockCustomer(b);
            transfer = Incidents.transferAsync(a, b, "1.00");
            SecondClient.awaitServiceBlocked(5000);
            report = asAdmin().post("/admin/database/diagnostics").then().statusCode(200)
                    .body("round_trip_ms", greaterThan(0f))
                    .body("server_version", startsWith("17"))
                    .body("connections.max_connections", equalTo(200))
                    .body("connections.used_by_bastion", greaterThanOrEqualTo(1))
                    .body("connections.pool_max_size", equalTo(50))
                    .body("lock_waits.application_name", hasItem("bastion"))
                    .body("lock_waits.blocked_by.flatten()", not(org.hamcrest.Matchers.empty()))
                    .body("long_running.application_name", everyItem(not(equalTo("bastion-probe"))))
                    .body("warnings", notNullValue())
                    .extract().asString();
            other.rollback();
        }
        assertEquals(200, transfer.get(30, TimeUnit.SECONDS).statusCode());
        assertNoSecrets(report);
    }

    static void assertNoSecrets(String body) {
        for (String secret : List.of("password", "jdbc:", "postgresql://", "SQLSTATE", "Exception", "pg_stat_activity")) {
            org.junit.jupiter.api.Assertions.assertFalse(body.contains(secret), "response leaks '" + secret + "': " + body);
        }
    }
}
