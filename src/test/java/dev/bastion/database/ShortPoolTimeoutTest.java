package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * Short waits a setting allows do not keep the service from starting. The shortest DB_POOL_TIMEOUT start-up accepts (1 ms) bounds the wait for a free connection, not
 * the time it takes to open one: no login takes a millisecond. Before, the pool's own borrow
 * timeout was DB_POOL_TIMEOUT, so the migration's first connection at start timed out and the
 * service did not start at all (DB_POOL_TIMEOUT=0.1 in a bench), and every request that needed a new
 * connection after the old ones were lost failed with 503 pool-exhausted. The shortest
 * DB_REQUEST_TIMEOUT (0.1 s) is {@link ShortRequestTimeoutTest}'s.
 */
@QuarkusTest
@TestProfile(ShortPoolTimeoutTest.OneMillisecond.class)
@WithTestResource(PostgresResource.class)
class ShortPoolTimeoutTest {

    public static class OneMillisecond implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("bastion.db.pool-timeout", "0.001");
        }
    }

    @Test
    void theServiceStartsAndOpensNewConnectionsWhenThePoolWaitIsAMillisecond() throws Exception {
        String email = uniqueEmail();
        long id = createCustomer(email, "5.00"); // the service started: the migration's connection was opened
        given().get("/customers/" + id).then().statusCode(200).body("email", equalTo(email));

        List<Integer> backends = SecondClient.pids("SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion'");
        assertTrue(!backends.isEmpty(), "the service holds connections");
        SecondClient.terminate(backends); // every connection lost: each borrow below opens a new one
        for (int i = 0; i < 5; i++) {
            String next = uniqueEmail();
            createCustomer(next, "1.00"); // asserts 201
            assertEquals(1, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email = '" + next + "'"));
        }
        given().get("/customers/" + id).then().statusCode(200).body("email", equalTo(email));
    }
}
