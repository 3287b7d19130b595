package dev.bastion.testing;

import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Real database incidents, caused through a second client, for tests that need them to have happened. */
public final class Incidents {

    private Incidents() {
    }

    public static CompletableFuture<HttpResponse<String>> transferAsync(long from, long to, String amount) {
        String body = Transfers.transferBody(from, to, amount);
        return CompletableFuture.supplyAsync(() -> Http.send(Http.postJson("/customers/transfers", body).build()));
    }

    /** What the second client does while the service's transfer waits for its lock on b. */
    @FunctionalInterface
    public interface WhileBlocked {
        void act(SecondClient other) throws Exception;
    }

    /** A transfer a→b that blocks behind a second client's lock on b; {@code action} runs meanwhile. */
    public static HttpResponse<String> blockedTransfer(long a, long b, String amount, WhileBlocked action) throws Exception {
        CompletableFuture<HttpResponse<String>> transfer;
        try (SecondClient other = new SecondClient()) {
            other.lockCustomer(b);
            transfer = transferAsync(a, b, amount);
            SecondClient.awaitServiceBlocked(5000);
            action.act(other);
            other.rollback();
        }
        return transfer.get(30, TimeUnit.SECONDS);
    }

    /**
     * A transfer a→b (a &lt; b) that deadlocks with a second client locking b then a; the service's
     * backend detects the deadlock and loses, so the unit of work must retry.
     */
    public static HttpResponse<String> deadlockedTransfer(long a, long b, String amount) throws Exception {
        return blockedTransfer(a, b, amount, other -> other.lockCustomer(a));
    }

    /** A transfer that waits {@code millis} behind a second client's row lock, then completes. */
    public static HttpResponse<String> slowTransfer(long a, long b, String amount, long millis) throws Exception {
        return blockedTransfer(a, b, amount, other -> Thread.sleep(millis));
    }
}
