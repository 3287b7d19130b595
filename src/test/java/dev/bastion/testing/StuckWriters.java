package dev.bastion.testing;

import static dev.bastion.testing.Customers.uniqueEmail;

import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A crowd of callers creating customers, each sending its next request as soon as the last is
 * answered, until closed: with the customer table locked by another session, their writes queue
 * behind the lock and for the pool.
 */
public final class StuckWriters implements AutoCloseable {

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final ExecutorService writers;

    private StuckWriters(int count) {
        writers = Executors.newFixedThreadPool(count);
        for (int w = 0; w < count; w++) {
            writers.submit(() -> {
                while (running.get()) {
                    Http.send(HttpRequest.newBuilder(Http.uri("/customers")).header("Content-Type", "application/json")
                            .timeout(Duration.ofSeconds(30))
                            .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"Stuck\",\"email\":\"" + uniqueEmail() + "\"}"))
                            .build());
                }
                return null;
            });
        }
    }

    public static StuckWriters start(int count) {
        return new StuckWriters(count);
    }

    /** Stops sending and waits for the answers still outstanding. */
    @Override
    public void close() throws InterruptedException {
        running.set(false);
        writers.shutdown();
        writers.awaitTermination(30, TimeUnit.SECONDS);
    }
}
