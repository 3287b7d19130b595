package dev.bastion.testing;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Requests sent without waiting for their answers, each answer timed from its send: a crowd in a test. */
public final class TimedRequests {

    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TimedRequests() {
    }

    /** One answer: its status, body, Retry-After (0 when none) and the milliseconds from send to answer. */
    public record Answer(int status, String body, long retryAfter, long millis) {
    }

    public static CompletableFuture<Answer> send(HttpRequest request) {
        long sent = System.nanoTime();
        return CLIENT.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(r -> new Answer(r.statusCode(), r.body(),
                r.headers().firstValueAsLong("Retry-After").orElse(0),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent)));
    }

    /** POST /customers for a customer whose email starts with {@code emailLocalPart}. */
    public static CompletableFuture<Answer> create(String emailLocalPart) {
        return send(Http.postJson("/customers", "{\"name\":\"Storm\",\"email\":\"" + emailLocalPart + "@example.org\"}").build());
    }
}
