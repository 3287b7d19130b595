package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

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
 * Reads and writes do not starve each other: with every write stuck behind a real table lock
 * (EXCLUSIVE: PostgreSQL still lets reads through), a crowd of writers holds at most six of the
 * pool's eight connections, and reads are served on the rest, in their normal time.
 */
@QuarkusTest
@TestProfile(ReadWriteLanesTest.PoolOfEight.class)
@WithTestResource(PostgresResource.class)
class ReadWriteLanesTest {

    public static class PoolOfEight implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "8",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.pool-timeout", "1",
                    "bastion.db.request-timeout", "10",
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    private static int bastionSessionsWaitingOnALock(Statement s) throws Exception {
        try (ResultSet r = s.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bastion' "
                + "AND wait_event_type = 'Lock'")) {
            r.next();
            return r.getInt(1);
        }
    }

    @Test
    void writesStuckBehindALockLeaveReadsAPlaceInThePool() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        List<HttpResponse<String>> reads = new ArrayList<>();
        int mostWaiting = 0;
        try (SecondClient migration = new SecondClient();
             Connection watcher = PostgresResource.connect();
             Statement watch = watcher.createStatement()) {
            migration.execute("LOCK TABLE customer IN EXCLUSIVE MODE"); // every write on customer waits; reads do not
            try (StuckWriters writers = StuckWriters.start(12)) {
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                int onTheLock;
                while ((onTheLock = bastionSessionsWaitingOnALock(watch)) < 6 && System.nanoTime() < until) {
                    Thread.sleep(20);
                }
                // as seen then: a writer whose 10 s deadline has just passed may leave the lock a moment later
                assertEquals(6, onTheLock, "the writers fill their lane: six connections wait on the lock");

                for (int i = 0; i < 20; i++) {
                    reads.add(Http.send(HttpRequest.newBuilder(Http.uri("/customers/" + id)).timeout(Duration.ofSeconds(30)).build()));
                    mostWaiting = Math.max(mostWaiting, bastionSessionsWaitingOnALock(watch));
                }
                migration.rollback(); // before the writers stop: they wait for their answers
            }
        }
        assertTrue(reads.stream().allMatch(r -> r.statusCode() == 200),
                "every read served while the writes were stuck: " + reads.stream().map(HttpResponse::statusCode).toList());
        assertTrue(mostWaiting <= 6, "writes never held the last quarter of the pool: " + mostWaiting + " waited on the lock");
        createCustomer(uniqueEmail(), "1.00"); // and writes go on once the lock is gone
    }
}
