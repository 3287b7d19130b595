package dev.bastion.database;

import static dev.bastion.database.LimitedRoleTest.load;
import static dev.bastion.database.LimitedRoleTest.read;
import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import dev.bastion.database.LimitedRoleTest.Answer;
import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Http;
import dev.bastion.testing.LimitedRoleResource;
import dev.bastion.testing.Management;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * A role's connection limit below the pool's size, met by a service of its own (the cap it learns
 * would otherwise carry over into the other limited-role tests): the pool serves on the
 * connections the server allows.
 */
@QuarkusTest
@TestProfile(ConnectionCapTest.CappedPool.class)
@WithTestResource(LimitedRoleResource.class)
class ConnectionCapTest {

    public static class CappedPool extends LimitedRoleTest.PoolOfTen {
    }

    @Test
    void aConnectionCapOfTwoServesTwentyReadersOnTwoConnections() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        // the same crowd without a cap, in the same run: the rate the cap is compared with
        double uncappedPerSecond = load(20, Duration.ofSeconds(2), caller -> read(id)).stream()
                .filter(a -> a.status() == 200).count() / 2.0;
        try {
            LimitedRoleResource.asSuperuser("ALTER ROLE " + LimitedRoleResource.ROLE + " CONNECTION LIMIT 2");
            LimitedRoleResource.endSessions(); // the pool (and the probe) start again under the cap
            // killing every session is an incident of its own (the breaker may open on the lost connections):
            // the cap is measured once the service serves again, waited for on the answer itself
            long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (dev.bastion.testing.Http.send(read(id)).statusCode() != 200 && System.nanoTime() < until) {
                Thread.sleep(50);
            }

            List<Answer> answers = load(20, Duration.ofSeconds(4), caller -> read(id));

            Map<String, Long> byOutcome = answers.stream().collect(Collectors.groupingBy(
                    a -> a.status() + " " + a.kind(), Collectors.counting()));
            long served = answers.stream().filter(a -> a.status() == 200).count();
            // reads are served at the rate the connections the server allows can give: a read takes a millisecond
            // or two, so two connections (one while the probe's is being given back) keep up with most of twenty
            // callers. Before the pool learned its cap from its own count of connections (and borrowers took
            // idle connections on other event loops) it served a few reads a second here
            double cappedPerSecond = served / 4.0;
            String seen = byOutcome + ", " + cappedPerSecond + " reads/s under the cap, " + uncappedPerSecond
                    + " without, learned limit " + Http.metric("bastion_db_pool_connection_limit", Map.of());
            System.out.println("ConnectionCapTest: " + seen); // the margin, in the build's output
            assertTrue(cappedPerSecond >= uncappedPerSecond / 10, "reads are served on the connections the server allows: " + seen);
            assertTrue(served > answers.size() / 2, "most callers are served, not refused: " + seen);
            for (Answer a : answers) {
                // waiting longer than DB_POOL_TIMEOUT stays the honest pool-exhausted; nothing else
                assertTrue(a.status() == 200 || a.status() == 503 && (a.kind().equals("pool-exhausted")
                        || a.kind().equals("request-deadline-exceeded")), byOutcome.toString()); // both say nothing was saved
            }
            // the cap of 2, or 3 while the pool probes one more connection after its backoff: once the load
            // stops, a probe taken without demand stays at 3 until a borrow is refused again (the log shows
            // "serving on 2"); without the cap learned it would read 10, the pool's size
            assertTrue(Http.metric("bastion_db_pool_connection_limit", Map.of()) <= 3,
                    "the pool learned the server's cap: " + seen);
            assertTrue(LimitedRoleResource.query("SELECT count(*) FROM pg_stat_activity WHERE usename = '"
                    + LimitedRoleResource.ROLE + "'") <= 2);
            Management.given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
            given().auth().oauth2(AdminTokens.admin()).get("/admin/database/health").then().statusCode(200)
                    .body("recommendations.toString()", containsString("CONNECTION LIMIT"));
        } finally {
            LimitedRoleResource.asSuperuser("ALTER ROLE " + LimitedRoleResource.ROLE + " CONNECTION LIMIT -1");
        }
    }

}
