package dev.bastion.testing;

import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Real database incidents, caused through a second client, for tests that need them to have happened. */
public final class Incidents {

    private Incidents() {
    }

    public static CompletableFuture<HttpResponse<String>> transferAsync(long from, long to, String amount) {
        String body = "{\"from\":" + from + ",\"to\":" + to + ",\"amount\":" + amount + "}";
        return CompletableFuture.supplyAsync(() -> Http.send(Http.postJson("/customers/transfers", body).build()));
    }

    /**
     * A transfer a→b (a &lt; b) that deadlocks with a second client locking b then a; the service's
     * backend detects the deadlock and loses, so the unit of work must retry. Returns the response.
     */
    public static HttpResponse<String> deadlockedTransfer(long a, long b, String amount) throws Exception {
        CompletableFuture<HttpResponse<String>> transfer;
        try (SecondClient other = new SecondClient()) {
            other.lockCustomer(b);
            transfer = transferAsync(a, b, amount);
            SecondClient.awaitServiceBlocked(5000);
            other.lockCustomer(a);
            other.rollback();
        }
        return transfer.get(30, TimeUnit.SECONDS);
    }

    /** A transfer that waits {@code millis} behind a second client's row lock, then completes. */
    public static HttpResponse<String> slowTransfer(long a, long b, String amount, long millis) throws Exception {
        CompletableFuture<HttpResponse<String>> transfer;
        try (SecondClient other = new SecondClient()) {
            other.lockCustomer(b);
            transfer = transferAsync(a, b, amount);
            SecondClient.awaitServiceBlocked(5000);
            Thread.sleep(millis);
            other.rollback();
        }
        return transfer.get(30, TimeUnit.SECONDS);
    }
}
