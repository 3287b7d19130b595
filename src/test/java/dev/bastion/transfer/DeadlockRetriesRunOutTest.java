package dev.bastion.transfer;

import static dev.bastion.testing.Customers.balance;
import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static dev.bastion.testing.Transfers.ledgerEntries;
import static dev.bastion.testing.Transfers.transferBody;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * When the retries for contention run out (here none are allowed: DB_DEADLOCK_RETRY_COUNT=0), a real
 * deadlock (40P01) is answered 503 {@code deadlock} with Retry-After, nothing is saved, and the
 * counter says the service gave up.
 */
@QuarkusTest
@TestProfile(DeadlockRetriesRunOutTest.NoContentionRetries.class)
@WithTestResource(PostgresResource.class)
class DeadlockRetriesRunOutTest {

    public static class NoContentionRetries implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("bastion.db.deadlock-retry-count", "0");
        }
    }

    @Test
    void aDeadlockWithNoRetryLeftIsA503ThatSavedNothing() throws Exception {
        long from = createCustomer(uniqueEmail(), "100.00");
        long to = createCustomer(uniqueEmail(), "0"); // created second: the transfer locks `from` first, then `to`
        double gaveUpBefore = Http.metric("bastion_db_deadlocks_total", Map.of("kind", "deadlock", "outcome", "gave_up"));
        CompletableFuture<HttpResponse<String>> transfer;
        try (SecondClient other = new SecondClient()) {
            other.lockCustomer(to);
            transfer = CompletableFuture.supplyAsync(() -> Http.send(Http.postJson("/customers/transfers",
                    transferBody(from, to, "5.00")).build()));
            assertFalse(SecondClient.awaitServiceBlocked(10_000).isEmpty(), "the transfer holds `from` and waits for `to`");
            // the other client now wants `from`: a cycle. The service waited first, so its deadlock_timeout ends
            // first and PostgreSQL breaks the cycle by failing the service's transaction
            other.lockCustomer(from);
            other.rollback();
        }
        HttpResponse<String> answer = transfer.get(30, TimeUnit.SECONDS);
        assertEquals(503, answer.statusCode(), answer.body());
        assertTrue(answer.body().contains("\"kind\":\"deadlock\""), answer.body());
        assertTrue(answer.headers().firstValue("Retry-After").isPresent());
        assertEquals(0, ledgerEntries(from, to));
        assertEquals(0, new BigDecimal("100.00").compareTo(balance(from)));
        assertEquals(0, BigDecimal.ZERO.compareTo(balance(to)));
        assertEquals(gaveUpBefore + 1, Http.metric("bastion_db_deadlocks_total", Map.of("kind", "deadlock", "outcome", "gave_up")));
    }
}
