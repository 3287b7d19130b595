package dev.bastion.transfer;

import static dev.bastion.testing.Customers.balance;
import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static dev.bastion.testing.Transfers.ledgerEntries;
import static dev.bastion.testing.Transfers.transferBody;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.bastion.customer.Customer;
import dev.bastion.testing.HangingUpClient;
import dev.bastion.testing.Await;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * Callers that hang up while their transfer waits for a turn on a hot row (DB_MAX_CONNECTIONS_PER_ROW
 * writers of the row already hold theirs) leave no turn taken: the row's next writer is served at
 * once, not at its deadline. Before, the first row of a two-row transfer still waiting for its
 * second stayed taken for good when its caller hung up: a hot row went dead after one wave of
 * hang-ups (the end of a load test made every later transfer of those rows wait its whole deadline).
 */
@QuarkusTest
@TestProfile(HungUpOnAHotRowTest.LongDeadline.class)
@WithTestResource(PostgresResource.class)
class HungUpOnAHotRowTest {

    private static final int HUNG_UP = 5;

    public static class LongDeadline implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "8",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.max-connections-per-row", "2",
                    "bastion.db.request-timeout", "20", // a turn left taken would show as a wait this long
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    @Test
    void aTurnHandedToACallerThatHungUpGoesToTheNextWriter() throws Exception {
        long hot = createCustomer(uniqueEmail(), "100");
        long to = createCustomer(uniqueEmail());
        long gone = createCustomer(uniqueEmail());
        List<CompletableFuture<HttpResponse<String>>> holders;
        try (SecondClient lock = new SecondClient()) {
            lock.execute("SELECT 1 FROM customer WHERE id = " + hot + " FOR UPDATE");
            holders = transfers(2, hot, to); // the row's two turns, waiting on PostgreSQL's row lock
            Await.until(() -> SecondClient.serviceBackendsWaitingForLocks().size() == 2, "two transfers on the row lock");
            hangUpWhileQueued(hot, gone);
            lock.rollback();
        }
        for (CompletableFuture<HttpResponse<String>> holder : holders) {
            assertEquals(200, holder.get(20, TimeUnit.SECONDS).statusCode());
        }
        assertNextWriterServedAtOnce(hot, to);
        assertEquals(0, ledgerEntries(hot, gone), "a transfer whose caller hung up while it queued ran");
        assertEquals(3, ledgerEntries(hot, to));
        assertEquals(0, new BigDecimal("97.00").compareTo(balance(hot)), "balance " + balance(hot));
    }

    @Test
    void theFirstRowOfATransferStillWaitingForItsSecondIsGivenBack() throws Exception {
        long a = createCustomer(uniqueEmail(), "100");
        long b = createCustomer(uniqueEmail(), "100");
        long other = createCustomer(uniqueEmail());
        // rows are taken in key order: the transfer takes `first`, then waits for `second`
        long first = Customer.rowKey(a).compareTo(Customer.rowKey(b)) < 0 ? a : b;
        long second = first == a ? b : a;
        List<CompletableFuture<HttpResponse<String>>> holders;
        try (SecondClient lock = new SecondClient()) {
            lock.execute("SELECT 1 FROM customer WHERE id = " + second + " FOR UPDATE");
            holders = transfers(2, second, other); // the second row's two turns
            Await.until(() -> SecondClient.serviceBackendsWaitingForLocks().size() == 2, "two transfers on the row lock");
            hangUpWhileQueued(first, second); // each holds a turn on `first` while it queues for `second`
            lock.rollback();
        }
        for (CompletableFuture<HttpResponse<String>> holder : holders) {
            assertEquals(200, holder.get(20, TimeUnit.SECONDS).statusCode());
        }
        assertNextWriterServedAtOnce(first, other);
        assertEquals(0, ledgerEntries(first, second), "a transfer whose caller hung up while it queued ran");
        assertEquals(1, ledgerEntries(first, other));
    }

    private static List<CompletableFuture<HttpResponse<String>>> transfers(int count, long from, long to) {
        List<CompletableFuture<HttpResponse<String>>> sent = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            sent.add(CompletableFuture.supplyAsync(() -> Http.send(Http.postJson("/customers/transfers",
                    transferBody(from, to, "1")).build())));
        }
        return sent;
    }

    /** {@value #HUNG_UP} transfers queue for a turn on a row, then their callers hang up. */
    private static void hangUpWhileQueued(long from, long to) throws Exception {
        List<HangingUpClient> callers = new ArrayList<>();
        for (int i = 0; i < HUNG_UP; i++) {
            callers.add(HangingUpClient.post("/customers/transfers", transferBody(from, to, "1")));
        }
        // all of them queued for a row (in the second test: two for `to` holding a turn on `from`, three for `from`)
        Await.until(() -> Http.metric("bastion_db_row_waiting", Map.of()) == HUNG_UP, HUNG_UP + " transfers queued for a row");
        for (HangingUpClient caller : callers) {
            caller.close();
        }
        Thread.sleep(1000); // the hang-ups reach the service (they stay in the queue, marked gone, until passed)
    }

    private static void assertNextWriterServedAtOnce(long from, long to) {
        long start = System.nanoTime();
        HttpResponse<String> next = Http.send(Http.postJson("/customers/transfers", transferBody(from, to, "1")).build());
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(200, next.statusCode(), next.body());
        assertTrue(millis < 5_000, "the row's next writer waited " + millis + " ms: a turn was left taken");
    }
}
