package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.rowsWithEmail;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Http;
import dev.bastion.testing.Management;
import dev.bastion.testing.Ports;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.ServerSettings;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * DB_HOSTS against a real PostgreSQL: a host that answers nothing listed first, the real server
 * second. The service finds the writer by itself, says which it is, follows the server when it
 * stops taking writes (reads go on, writes answer database-read-only) and when it takes them again.
 * The failover between three real nodes and the split brain are in bench/faults/writer.py.
 */
@QuarkusTest
@TestProfile(WriterDiscoveryTest.TwoHosts.class)
@WithTestResource(WriterDiscoveryTest.DeadHostFirst.class)
class WriterDiscoveryTest {

    public static class TwoHosts implements QuarkusTestProfile {
    }

    /** The test server behind a listed host that refuses connections (a node that is down). */
    public static class DeadHostFirst implements QuarkusTestResourceLifecycleManager {
        @Override
        public Map<String, String> start() {
            Map<String, String> config = new HashMap<>(PostgresResource.datasource(PostgresResource.port()));
            config.put("bastion.db.hosts", "127.0.0.1:" + Ports.closedPort() + ",127.0.0.1:" + PostgresResource.port());
            return config;
        }

        @Override
        public void stop() {
        }
    }

    private static String writer() {
        return Management.given().get("/q/health/ready").then().extract().path("checks.find { it.name == 'database' }.data.writer");
    }

    /** The admin API's view of one host: its role, and whether it serves reads. */
    private static String role(String host) {
        return given().auth().oauth2(AdminTokens.admin()).get("/admin/database/nodes").then().statusCode(200)
                .extract().path("nodes.find { it.host == '" + host + "' }.role");
    }

    @Test
    void theWriterIsFoundAmongTheHostsAndFollowedThroughAReadOnlySpell() throws Exception {
        String server = "127.0.0.1:" + PostgresResource.port();
        String email = uniqueEmail();
        long id = createCustomer(email, "5.00");
        assertEquals(1, rowsWithEmail(email), "written through the host that answers");
        assertEquals(server, writer(), "readiness names the writer");
        assertTrue(Http.metric("bastion_db_writer_changes_total", Map.of()) >= 1);
        assertEquals(1.0, Http.metric("bastion_db_node_writable", Map.of("host", server)), "per node: the writer");
        assertEquals(0.0, Http.metric("bastion_db_node_replay_age_seconds", Map.of("host", server)), "the writer lags nothing");
        given().auth().oauth2(AdminTokens.admin()).get("/admin/database/nodes").then().statusCode(200)
                .body("hostsDiscovered", equalTo(true)).body("writer", equalTo(server)).body("nodes.size()", equalTo(2))
                .body("nodes.find { it.host == '" + server + "' }.servesReads", equalTo(true));
        assertEquals("writer", role(server), "the admin API names the writer");
        String deadHost = given().auth().oauth2(AdminTokens.admin()).get("/admin/database/nodes").then()
                .extract().path("nodes.find { it.host != '" + server + "' }.host");
        assertEquals("unreachable", role(deadHost), "and the host that is down");

        try {
            ServerSettings.set("default_transaction_read_only", "on");
            String refused = uniqueEmail();
            long until = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            String kind = null;
            while (System.nanoTime() < until) { // new sessions see the setting; the writer is looked for again
                kind = given().contentType("application/json").body("{\"name\":\"Refused\",\"email\":\"" + refused + "\"}")
                        .post("/customers").then().extract().path("kind");
                if ("database-read-only".equals(kind) && "none".equals(writer())) {
                    break;
                }
                Thread.sleep(100);
            }
            assertEquals("database-read-only", kind);
            assertEquals("none", writer(), "no host takes writes: readiness says so");
            assertEquals("read-only", role(server), "the admin API: the node answers but refuses writes");
            assertEquals(0, rowsWithEmail(refused));
            given().get("/customers/" + id).then().statusCode(200).body("email", equalTo(email)); // reads go on
        } finally {
            ServerSettings.reset("default_transaction_read_only", "off");
        }
        long until = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        String again = uniqueEmail();
        int status = 0;
        while (System.nanoTime() < until && status != 201) {
            status = given().contentType("application/json").body("{\"name\":\"Again\",\"email\":\"" + again + "\"}")
                    .post("/customers").then().extract().statusCode();
            if (status != 201) {
                Thread.sleep(100);
            }
        }
        assertEquals(201, status, "writes come back with the writer");
        assertEquals(1, rowsWithEmail(again));
        until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!server.equals(writer()) && System.nanoTime() < until) {
            Thread.sleep(100);
        }
        assertEquals(server, writer());
    }
}
