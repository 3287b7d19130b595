package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.bastion.idempotency.IdempotencyKeys.CleanupRun;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.StuckWriters;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/**
 * The expired-key clean-up gives way to requests: while requests wait for a connection, a run stops
 * after the batch it is on, and the next run goes on from there. Here writes are stuck behind a real
 * table lock and queue in the admission (their lane holds six of the pool's eight connections), so a
 * connection is free for the clean-up while requests wait.
 */
@QuarkusTest
@TestProfile(CleanupYieldsToTrafficTest.PoolOfEight.class)
@WithTestResource(PostgresResource.class)
class CleanupYieldsToTrafficTest {

    private static final int BATCH = 100;
    private static final String EXPIRED = "SELECT count(*) FROM idempotency_key WHERE expires_at < now()";

    public static class PoolOfEight implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "8",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.request-timeout", "20",
                    "bastion.db.breaker-request-volume", "100000",
                    "bastion.idempotency.cleanup-interval", "86400", // only the test runs it
                    "bastion.idempotency.cleanup-batch-size", String.valueOf(BATCH));
        }
    }

    @Inject
    IdempotencyKeys keys;

    @Test
    void aRunStopsAfterItsBatchWhileRequestsWaitForAConnection() throws Exception {
        try (SecondClient db = new SecondClient()) {
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT 'test.yield', 'expired-' || s, repeat('0', 64), 200, now() - interval '1 minute' "
                    + "FROM generate_series(1, " + BATCH * 5 + ") s");
            db.commit();
        }
        long backlog = SecondClient.queryLong(EXPIRED);
        CleanupRun underLoad;
        try (StuckWriters writers = StuckWriters.start(10); SecondClient migration = new SecondClient()) {
            migration.execute("LOCK TABLE customer IN EXCLUSIVE MODE"); // every create waits; the key table does not
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (Http.metric("bastion_db_admission_waiting", Map.of()) < 1 && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertTrue(Http.metric("bastion_db_admission_waiting", Map.of()) >= 1, "no request ever waited for a connection");

            underLoad = keys.removeExpired().await().atMost(Duration.ofSeconds(30));
            migration.rollback();
        }
        assertEquals(1, underLoad.batches(), "the run went on while requests waited: " + underLoad);
        assertEquals(BATCH, underLoad.removed());
        assertEquals(backlog - BATCH, SecondClient.queryLong(EXPIRED), "one batch removed, the rest left for later");

        CleanupRun quiet = keys.removeExpired().await().atMost(Duration.ofSeconds(30)); // nobody waits: it goes on
        assertEquals(backlog - BATCH, quiet.removed(), "the next run removed the rest: " + quiet);
        assertEquals(0, SecondClient.queryLong(EXPIRED));
    }
}
