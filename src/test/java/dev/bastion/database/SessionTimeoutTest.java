package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/**
 * DB_SESSION_TIMEOUT reaches PostgreSQL on every pooled connection: a transaction left idle on one
 * (a bug, a client that stalls mid-unit) is ended by the server itself after that long, its locks
 * released, whatever the service does meanwhile.
 */
@QuarkusTest
@TestProfile(SessionTimeoutTest.TwoSeconds.class)
@WithTestResource(PostgresResource.class)
class SessionTimeoutTest {

    public static class TwoSeconds implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("bastion.db.command-timeout", "1", "bastion.db.session-timeout", "2");
        }
    }

    @Inject
    Pool pool;

    @Test
    void aTransactionLeftIdleOnAPooledConnectionIsEndedByTheServer() throws Exception {
        SqlConnection connection = pool.getConnection().await().atMost(Duration.ofSeconds(10));
        int pid = connection.query("SELECT pg_backend_pid()").execute().await().atMost(Duration.ofSeconds(10))
                .iterator().next().getInteger(0);
        connection.query("BEGIN").execute().await().atMost(Duration.ofSeconds(10));
        connection.query("SELECT * FROM customer LIMIT 1 FOR UPDATE").execute().await().atMost(Duration.ofSeconds(10));
        assertEquals("idle in transaction", SecondClient.queryString("SELECT state FROM pg_stat_activity WHERE pid = " + pid));

        // wait for the event itself: the backend gone (bounded well above the 2 s setting)
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (SecondClient.queryLong("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) > 0 && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        assertEquals(0, SecondClient.queryLong("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid),
                "PostgreSQL ended the idle transaction's session");
        assertThrows(Exception.class, () -> connection.query("SELECT 1").execute().await().atMost(Duration.ofSeconds(10)),
                "the connection is gone");
        connection.close().await().atMost(Duration.ofSeconds(10));
        assertTrue(pool.query("SELECT 1").execute().await().atMost(Duration.ofSeconds(10)).size() == 1, "the pool goes on");
    }
}
