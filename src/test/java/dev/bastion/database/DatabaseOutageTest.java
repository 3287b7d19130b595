package dev.bastion.database;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Management;
import dev.bastion.testing.RestartablePostgresResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL really goes away mid-traffic and comes back on the same port: requests fail fast,
 * readiness follows the database, liveness does not, and the service recovers without a restart.
 */
@QuarkusTest
@TestProfile(DatabaseOutageTest.Outage.class)
class DatabaseOutageTest {

    public static class Outage implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.connect-timeout", "1",
                    "bastion.db.max-retries", "2",
                    "bastion.db.breaker-request-volume", "4",
                    "bastion.db.breaker-failure-ratio", "0.5",
                    "bastion.db.breaker-delay", "1");
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(RestartablePostgresResource.class));
        }
    }

    @Test
    void theServiceFailsFastWhileTheDatabaseIsDownAndRecoversByItself() throws Exception {
        long id = given().contentType(ContentType.JSON).body("{\"name\":\"Survivor\",\"email\":\"survivor@example.org\"}")
                .post("/customers").then().statusCode(201).extract().jsonPath().getLong("id");

        RestartablePostgresResource.stopServer();
        try {
            long slowest = 0;
            boolean breakerOpened = false;
            for (int i = 0; i < 12; i++) {
                long start = System.nanoTime();
                Response response = given().get("/customers/" + id);
                long millis = (System.nanoTime() - start) / 1_000_000;
                slowest = Math.max(slowest, millis);
                assertEquals(503, response.statusCode(), response.asString());
                assertTrue(response.header("Retry-After") != null);
                String kind = response.jsonPath().getString("kind");
                assertTrue(List.of("database-unavailable", "circuit-open").contains(kind), kind);
                breakerOpened |= "circuit-open".equals(kind);
            }
            assertTrue(slowest < 5000, "requests fail fast, slowest took " + slowest + " ms");
            assertTrue(breakerOpened, "the circuit breaker opened");
            Management.given().get("/q/health/ready").then().statusCode(503).body("status", equalTo("DOWN"));
            Management.given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
            // the operators' diagnostics answer as the API does: 503 and what failed, not an unexpected 500
            Response diagnostics = given().auth().oauth2(AdminTokens.admin()).post("/admin/database/diagnostics");
            assertEquals(503, diagnostics.statusCode(), diagnostics.asString());
            assertTrue(diagnostics.contentType().startsWith("application/problem+json"), diagnostics.contentType());
            assertEquals("database-unavailable", diagnostics.jsonPath().getString("kind"), diagnostics.asString());
            assertTrue(diagnostics.header("Retry-After") != null);
        } finally {
            RestartablePostgresResource.startServerAgain();
        }

        awaitStatus("/q/health/ready", 200, 20_000);
        awaitStatus("/customers/" + id, 200, 20_000);
        given().get("/customers/" + id).then().body("name", equalTo("Survivor"));
        given().contentType(ContentType.JSON).body("{\"name\":\"After\",\"email\":\"after@example.org\"}")
                .post("/customers").then().statusCode(201);
    }

    private static void awaitStatus(String path, int status, long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        int last = -1;
        while (System.currentTimeMillis() < deadline) {
            last = (path.startsWith("/q/") ? Management.given() : given()).get(path).statusCode();
            if (last == status) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(path + " did not return " + status + " within " + millis + " ms (last " + last + ")");
    }
}
