package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.rowsWithEmail;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Management;
import dev.bastion.testing.Ports;
import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * The multi-host form Quarkus users already write, several comma-separated URLs in
 * QUARKUS_DATASOURCE_REACTIVE_URL (which the Vert.x pool alone would use round-robin), gets the
 * same writer discovery as DB_HOSTS: a host that is down listed first, the real server second.
 */
@QuarkusTest
@TestProfile(WriterDiscoveryUrlListTest.UrlList.class)
@WithTestResource(WriterDiscoveryUrlListTest.DeadHostFirstInTheUrl.class)
class WriterDiscoveryUrlListTest {

    public static class UrlList implements QuarkusTestProfile {
    }

    public static class DeadHostFirstInTheUrl implements QuarkusTestResourceLifecycleManager {
        @Override
        public Map<String, String> start() {
            Map<String, String> config = new HashMap<>(PostgresResource.datasource(PostgresResource.port()));
            config.put("quarkus.datasource.reactive.url", "postgresql://127.0.0.1:" + Ports.closedPort()
                    + "/bastion,postgresql://127.0.0.1:" + PostgresResource.port() + "/bastion");
            return config;
        }

        @Override
        public void stop() {
        }
    }

    @Test
    void everyWriteGoesToTheWriterOfTheListedUrls() throws Exception {
        String server = "127.0.0.1:" + PostgresResource.port();
        Management.given().get("/q/health/ready").then().statusCode(200)
                .body("checks.find { it.name == 'database' }.data.writer", equalTo(server));
        for (int i = 0; i < 6; i++) { // round-robin would send every other new connection to the dead host
            String email = uniqueEmail();
            createCustomer(email, "1.00");
            assertEquals(1, rowsWithEmail(email));
        }
        given().auth().oauth2(AdminTokens.admin()).get("/admin/database/nodes").then().statusCode(200)
                .body("hostsDiscovered", equalTo(true)).body("writer", equalTo(server)).body("nodes.size()", equalTo(2));
    }
}
