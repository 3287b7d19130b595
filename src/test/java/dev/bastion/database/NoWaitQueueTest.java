package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.util.Map;

import dev.bastion.testing.Await;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.StuckWriters;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * DB_POOL_WAIT_QUEUE=0, which start-up accepts, means that no request waits for a connection, not
 * that none is served: a request is served while a connection is free, and refused at once when
 * none is. Before, the router's check on arrival found the queue "full" and refused every request
 * of an idle service with 503 pool-exhausted.
 */
@QuarkusTest
@TestProfile(NoWaitQueueTest.NoQueue.class)
@WithTestResource(PostgresResource.class)
class NoWaitQueueTest {

    public static class NoQueue implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "2",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.pool-wait-queue", "0",
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    @Test
    void aFreeConnectionServesTheRequestAndNoneFreeRefusesItAtOnce() throws Exception {
        String email = uniqueEmail();
        long id = createCustomer(email, "3.00"); // asserts 201
        given().get("/customers/" + id).then().statusCode(200).body("email", equalTo(email));

        try (SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN EXCLUSIVE MODE");
            try (StuckWriters writers = StuckWriters.start(2)) { // both connections, waiting on the lock
                Await.until(() -> SecondClient.serviceBackendsWaitingForLocks().size() == 2, "two writers on the lock");
                long start = System.nanoTime();
                HttpResponse<String> refused = Http.send(java.net.http.HttpRequest.newBuilder(Http.uri("/customers/" + id)).build());
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertEquals(503, refused.statusCode(), refused.body());
                assertTrue(refused.body().contains("\"kind\":\"pool-exhausted\""), refused.body());
                assertTrue(refused.headers().firstValue("Retry-After").isPresent());
                assertTrue(millis < 10_000, "a request with no connection free waited " + millis + " ms"); // not the 30 s deadline
                migration.rollback();
            }
        }
        given().get("/customers/" + id).then().statusCode(200).body("email", equalTo(email));
        assertEquals(1, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email = '" + email + "'"));
    }
}
