package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bastion.idempotency.IdempotencyKeys;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.vertx.pgclient.PgException;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/**
 * A whole table locked by a session outside the service (a {@code VACUUM FULL}, a {@code LOCK TABLE},
 * an {@code ALTER TABLE} waiting for its own lock): reads of that table on a Hibernate session wait
 * inside PostgreSQL no longer than their deadline, so they give their connections back and the rest
 * of the API is served while the lock lasts.
 */
@QuarkusTest
@TestProfile(HeldRowTest.SmallPool.class) // a pool of 4, a 2 s deadline
@WithTestResource(PostgresResource.class)
class TableLockTest {

    private static final int POOL = HeldRowTest.POOL;
    private static final int DEADLINE_SECONDS = HeldRowTest.DEADLINE_SECONDS;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    IdempotencyKeys keys;

    @Test
    void readsBehindATableLockStopWaitingInPostgresAtTheirDeadlineAndEverythingElseIsServed() throws Exception {
        long customer = createCustomer(uniqueEmail());
        given().contentType(ContentType.JSON).body("{\"body\":\"before the lock\"}")
                .post("/customers/" + customer + "/notes").then().statusCode(201);
        String notes = "/customers/" + customer + "/notes";
        try (SecondClient other = new SecondClient()) {
            other.execute("LOCK TABLE customer_note IN ACCESS EXCLUSIVE MODE");
            long start = System.nanoTime();
            List<HttpResponse<String>> answers = Http.concurrently(2 * POOL, i -> HttpRequest.newBuilder(Http.uri(notes))
                    .timeout(Duration.ofSeconds(30)).GET().build());
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            for (HttpResponse<String> answer : answers) {
                assertEquals(503, answer.statusCode(), answer.body());
                assertTrue(Set.of("request-deadline-exceeded", "pool-exhausted")
                        .contains(JSON.readTree(answer.body()).get("kind").asText()), answer.body());
            }
            assertTrue(tookMillis < TimeUnit.SECONDS.toMillis(DEADLINE_SECONDS + 2), "answered in " + tookMillis + " ms");

            // inside PostgreSQL too: within a second of the deadline no service backend waits on the lock
            // (a read on a session without a transaction had no statement_timeout and waited as long as the lock)
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
            List<Integer> waiting = SecondClient.serviceBackendsWaitingForLocks();
            while (!waiting.isEmpty() && System.nanoTime() < until) {
                Thread.sleep(20);
                waiting = SecondClient.serviceBackendsWaitingForLocks();
            }
            assertEquals(List.of(), waiting, "service backends still waiting on the locked table");

            // the lock still held, the pool serves what it does not touch
            for (int i = 0; i < 2 * POOL; i++) {
                given().get("/customers/" + customer).then().statusCode(200);
            }
        }
        given().get(notes).then().statusCode(200).body("items", hasSize(1));
    }

    @Test
    void theExpiredKeyCleanupBehindATableLockGivesItsConnectionBackAtTheRequestDeadline() throws Exception {
        try (SecondClient other = new SecondClient()) {
            other.execute("LOCK TABLE idempotency_key IN ACCESS EXCLUSIVE MODE");
            long start = System.nanoTime();
            Throwable failure = keys.removeExpired().map(run -> (Throwable) null)
                    .onFailure().recoverWithItem(error -> error)
                    .await().atMost(Duration.ofSeconds(DEADLINE_SECONDS + 10));
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            // before, a batch had no time bound: it kept its pool connection (outside the admission) behind the lock
            assertTrue(failure instanceof PgException pg && "57014".equals(pg.getSqlState()), String.valueOf(failure));
            assertTrue(tookMillis < TimeUnit.SECONDS.toMillis(DEADLINE_SECONDS + 1), "gave up after " + tookMillis + " ms");
            assertEquals(List.of(), SecondClient.serviceBackendsWaitingForLocks(), "the clean-up still waits on the lock");
        }
        assertTrue(keys.removeExpired().await().atMost(Duration.ofSeconds(10)).ran(), "the lock gone, a run goes through");
    }
}
