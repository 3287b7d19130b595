package dev.bastion.database;

import static dev.bastion.testing.Customers.uniqueEmail;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.util.Map;

import dev.bastion.schema.ShippedMigrations;
import dev.bastion.testing.Http;
import dev.bastion.testing.Management;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * The shortest DB_REQUEST_TIMEOUT start-up accepts (0.1 s, so DB_POOL_TIMEOUT and DB_CONNECT_TIMEOUT
 * derive to 0.1 s too) still lets the service start: the migration's first connection is tried again
 * for up to 10 s when a cold JVM's first login takes longer than the pool's
 * borrow timeout. Before, start-up failed with "Timeout" (found with DB_REQUEST_TIMEOUT=0.1 in a
 * bench; 0.3 started).
 */
@QuarkusTest
@TestProfile(ShortRequestTimeoutTest.TenthOfASecond.class)
@WithTestResource(PostgresResource.class)
class ShortRequestTimeoutTest {

    public static class TenthOfASecond implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("bastion.db.request-timeout", "0.1");
        }
    }

    @Test
    void theServiceStartsMigratedAndServesWithinATenthOfASecond() throws Exception {
        Management.given().get("/q/health/live").then().statusCode(200);
        assertEquals(ShippedMigrations.latestVersion(), SecondClient.queryLong(
                "SELECT max(version::int) FROM flyway_schema_history WHERE success"));
        // a tenth of a second is short for a loaded test machine: served once warm, never a 500
        String email = uniqueEmail();
        int status = 0;
        for (int i = 0; i < 50 && status != 201; i++) {
            HttpResponse<String> answer = Http.send(Http.postJson("/customers",
                    "{\"name\":\"Quick\",\"email\":\"" + email + "\"}").build());
            status = answer.statusCode();
            assertTrue(status == 201 || status == 503, answer.body());
        }
        assertEquals(201, status);
        assertEquals(1, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email = '" + email + "'"));
    }
}
