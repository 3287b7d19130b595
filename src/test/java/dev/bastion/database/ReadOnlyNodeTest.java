package dev.bastion.database;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import dev.bastion.testing.Http;
import dev.bastion.testing.Management;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.ServerSettings;
import dev.bastion.testing.SingleConnectionProfile;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The writer address reaches a node that refuses writes, as during a failover before the standby
 * is promoted: PostgreSQL really answers SQLSTATE 25006 (the whole server is switched to
 * default_transaction_read_only, which existing sessions pick up on reload, as a demoted node's
 * would). The full failover with a real streaming standby runs in bench/faults.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(SingleConnectionProfile.class)
class ReadOnlyNodeTest {

    @AfterEach
    void writable() throws Exception {
        ServerSettings.reset("default_transaction_read_only", "off");
    }

    @Test
    void aWriteRefusedByAReadOnlyNodeIs503WithRetryAfterItsConnectionIsClosedAndReadinessStaysUp() throws Exception {
        given().get("/customers/0").then().statusCode(404); // the pool's only connection exists
        List<Integer> before = serviceBackends();
        assertEquals(1, before.size(), "pool of one: " + before);

        ServerSettings.set("default_transaction_read_only", "on");
        Response refused = given().contentType(ContentType.JSON)
                .body("{\"name\":\"Refused\",\"email\":\"refused-by-standby@example.org\"}").post("/customers");
        assertEquals(503, refused.statusCode(), refused.asString());
        assertEquals("database-read-only", refused.jsonPath().getString("kind"));
        assertNotNull(refused.header("Retry-After"));
        assertEquals(0, SecondClient.queryLong(
                "SELECT count(*) FROM customer WHERE email = 'refused-by-standby@example.org'"));
        awaitGone(before.get(0));

        // every pod sees the same read-only database, and reads still work: not a reason to leave the Service
        Management.given().get("/q/health/ready").then().statusCode(200)
                .body("checks.find { it.name == 'database' }.data.readOnly", equalTo(true));
        given().get("/customers/0").then().statusCode(404); // reads are served
        // a read-only spell is not an outage: a dozen refused writes (more than the breaker's window of 10)
        // leave the breaker closed, so reads are never turned away with circuit-open
        for (int i = 0; i < 12; i++) {
            given().contentType(ContentType.JSON).body("{\"name\":\"Refused\",\"email\":\"refused-" + i + "@example.org\"}")
                    .post("/customers").then().statusCode(503).body("kind", equalTo("database-read-only"));
        }
        Management.given().get("/q/health/ready").then().statusCode(200)
                .body("checks.find { it.name == 'database' }.data.circuitBreaker", equalTo("closed"));
        given().get("/customers/0").then().statusCode(404);

        ServerSettings.reset("default_transaction_read_only", "off");
        Management.given().get("/q/health/ready").then().statusCode(200);
        given().contentType(ContentType.JSON).body("{\"name\":\"Accepted\",\"email\":\"accepted-after-promotion@example.org\"}")
                .post("/customers").then().statusCode(201);
    }

    @Test
    void aWriteDuringAShortReadOnlySpellIsRetriedUntilTheNodeTakesWritesAgain() throws Exception {
        given().get("/customers/0").then().statusCode(404);
        int first = serviceBackends().get(0);

        ServerSettings.set("default_transaction_read_only", "on");
        CompletableFuture<HttpResponse<String>> write = CompletableFuture.supplyAsync(() -> Http.send(
                Http.postJson("/customers", "{\"name\":\"Patient\",\"email\":\"patient-writer@example.org\"}").build()));
        awaitGone(first); // the first attempt met the read-only node, and its connection was closed
        ServerSettings.reset("default_transaction_read_only", "off"); // "promotion"

        HttpResponse<String> response = write.join();
        assertEquals(201, response.statusCode(), response.body());
        assertEquals(1, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email = 'patient-writer@example.org'"));
    }

    private static List<Integer> serviceBackends() throws Exception {
        return SecondClient.pids("SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion'");
    }

    private static void awaitGone(int pid) throws Exception {
        long deadline = System.currentTimeMillis() + 5000;
        while (serviceBackends().contains(pid)) {
            assertFalse(System.currentTimeMillis() > deadline, "backend " + pid + " still open");
            Thread.sleep(5);
        }
    }
}
