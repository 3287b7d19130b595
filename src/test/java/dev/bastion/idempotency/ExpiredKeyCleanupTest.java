package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

import dev.bastion.idempotency.IdempotencyKeys.CleanupRun;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/** Expired keys go in bounded batches, and only one replica (advisory lock holder) removes them at a time. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ExpiredKeyCleanupTest {

    private static final String EXPIRED = "SELECT count(*) FROM idempotency_key WHERE expires_at < now()";

    @Inject
    IdempotencyKeys keys;

    @Inject
    IdempotencySettings settings;

    @Test
    void expiredKeysAreRemovedInBatchesByOneReplicaAtATime() throws Exception {
        int expired = settings.cleanupBatchSize() * 2 + 500;
        try (SecondClient db = new SecondClient()) {
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT 'test.cleanup', 'expired-' || s, repeat('0', 64), 200, now() - interval '1 minute' "
                    + "FROM generate_series(1, " + expired + ") s");
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT 'test.cleanup', 'live-' || s, repeat('0', 64), 200, now() + interval '1 hour' "
                    + "FROM generate_series(1, 10) s");
            db.commit();

            // another replica is cleaning up: this one skips its run and deletes nothing
            db.execute("SELECT pg_advisory_lock(" + IdempotencyKeys.CLEANUP_LOCK + ")");
            CleanupRun skipped = keys.removeExpired().await().atMost(Duration.ofSeconds(30));
            assertFalse(skipped.ran());
            assertEquals(0, skipped.batches());
            assertTrue(SecondClient.queryLong(EXPIRED) >= expired);
            db.execute("SELECT pg_advisory_unlock(" + IdempotencyKeys.CLEANUP_LOCK + ")");
            db.commit();
        }

        long before = SecondClient.queryLong(EXPIRED);
        long removed = 0;
        CleanupRun run;
        do { // runs of at most cleanupMaxBatches (other tests may have left expired keys too), until none is left
            run = keys.removeExpired().await().atMost(Duration.ofSeconds(30));
            assertTrue(run.ran());
            assertTrue(run.batches() <= settings.cleanupMaxBatches(), "a bounded run: " + run);
            long fullBatches = run.keysLeft() ? run.batches() : run.batches() - 1; // the last batch found fewer
            assertEquals(fullBatches, run.removed() / settings.cleanupBatchSize(), "bounded batches: " + run);
            removed += run.removed();
        } while (run.keysLeft());

        assertEquals(before, removed, "every expired key, and nothing else");
        assertEquals(0, SecondClient.queryLong(EXPIRED));
        assertEquals(10, SecondClient.queryLong("SELECT count(*) FROM idempotency_key WHERE idempotency_key LIKE 'live-%'"));
        assertEquals(0, SecondClient.queryLong("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"),
                "the cleanup lock was released");
    }

    /**
     * A batch's commit does not wait for the WAL flush, and nothing of that outlives its transaction: the
     * connection goes back to the pool, whose requests' commits must stay durable.
     */
    @Test
    void aBatchCommitsWithoutWaitingForTheFlushAndLeavesTheSessionAsItWas() throws SQLException {
        String batch = IdempotencyKeys.DELETE_EXPIRED_BATCH.replace("$1", "1")
                .replace("$2", String.valueOf(IdempotencyKeys.CLEANUP_LOCK));
        try (Connection c = PostgresResource.connect()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("SET synchronous_commit = on"); // as a production server has it (the tests' own runs with off)
            }
            c.commit();
            show(c, batch);
            assertEquals("off", show(c, "SHOW synchronous_commit"), "the batch's own transaction");
            c.commit();
            assertEquals("on", show(c, "SHOW synchronous_commit"), "the session after the batch");
            c.commit();
        }
    }

    private static String show(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
