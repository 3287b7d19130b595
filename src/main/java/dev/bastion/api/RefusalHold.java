package dev.bastion.api;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import dev.bastion.database.DatabaseSettings;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import jakarta.inject.Singleton;
import jakarta.ws.rs.core.Response;

/**
 * When a refusal "the service is busy" is answered. A few are answered at once; during a storm of
 * them (more than {@value #AT_ONCE_PER_WINDOW} in {@value #WINDOW_MILLIS} ms) each further one is
 * held until one to two seconds (at random, at most half the request deadline) after its request
 * arrived before its 503. A crowd too large for that to keep its refusals below about
 * {@value #HELD_REFUSALS_PER_SECOND} a second is held longer, in proportion (at most
 * {@value #CROWD_HOLD_MILLIS} ms, and half the deadline).
 * <p>
 * Why: a crowd that retries at once (clients that ignore Retry-After, a load test, a retry loop)
 * sends a refused request again the moment its answer arrives. Answered at once, the refused
 * connections never go quiet: the event loops spend their turns refusing, and the replies of the
 * database connections, which share those loops, wait behind them. With DB_POOL_WAIT_QUEUE=200
 * and 1,000 such callers the service answered 17,000 requests a second and served 300 of them.
 * A held refusal costs a timer and the request's memory, not CPU, and its connection stays quiet
 * meanwhile (HAProxy's "tarpit" does the same to unwanted traffic). A refusal after the request
 * waited its turn out is held for what its hold has left: its wait counts. At the default
 * DB_POOL_TIMEOUT (30 s) nothing is left; at a latency-first 0.02 s, answered as soon as its wait ran
 * out, a crowd of 5,000 was refused some 4,100 times a second, with it 2,900 (bench/throughput/compare.py).
 */
@Singleton
public class RefusalHold {

    static final long WINDOW_MILLIS = 100;
    /** About 200 refusals a second answered at once: a sporadic refusal is not held. */
    static final int AT_ONCE_PER_WINDOW = 20;
    /**
     * A crowd of N callers then sends about N / 1.5 s refusals: 3,300 a second for 5,000 callers,
     * some 10 % of a core, where answered at once they took the cores whole.
     */
    private static final long LONGEST_HOLD_MILLIS = 2000;
    /**
     * The refusal rate a crowd is held to: held H seconds, the N callers being held come back
     * N / H times a second, so H grows with N beyond 1,500 of them. Without it, 5,000 callers retrying at
     * once at DB_POOL_TIMEOUT=0.02 were refused about 3,000 times a second, each refusal costing the
     * service and the caller a request's round trip on the same cores as the reads served; with it
     * 1,100 to 1,300, and a quarter to a third more reads were served (bench/throughput/compare.py).
     */
    static final int HELD_REFUSALS_PER_SECOND = 1000;
    /**
     * The longest hold of a crowd, whatever its size: a caller learns it was refused within 5 s, before
     * the usual clients' and proxies' timeouts (HAProxy's tarpit commonly holds as long). Beyond 3,750
     * held the crowd comes back more often than {@value #HELD_REFUSALS_PER_SECOND} a second.
     */
    static final long CROWD_HOLD_MILLIS = 5_000;

    private final Vertx vertx;
    private final long longestHoldMillis;
    private final long crowdHoldMillis;
    /**
     * Refusals being held right now: the crowd that comes back when their holds end. One whose caller
     * hung up still counts until its hold ends (at most 5 s): a storm right after a crowd left is
     * held as long as that crowd was.
     */
    private final AtomicInteger holding = new AtomicInteger();
    private final AtomicLong windowStart = new AtomicLong(System.nanoTime());
    private final AtomicInteger inWindow = new AtomicInteger();
    private final Counter held;

    public RefusalHold(Vertx vertx, DatabaseSettings settings, MeterRegistry registry) {
        this.vertx = vertx;
        long halfDeadline = settings.requestTimeout().toMillis() / 2;
        this.longestHoldMillis = Math.max(2, Math.min(LONGEST_HOLD_MILLIS, halfDeadline));
        this.crowdHoldMillis = Math.max(longestHoldMillis, Math.min(CROWD_HOLD_MILLIS, halfDeadline));
        this.held = Counter.builder("bastion.http.refusals.held")
                .description("503 refusals held until 1 to 2 s after their arrival (longer for a crowd beyond "
                        + HELD_REFUSALS_PER_SECOND * 3 / 2 + "), during a storm of refusals (more than "
                        + AT_ONCE_PER_WINDOW + " in " + WINDOW_MILLIS + " ms): a crowd retrying at once")
                .register(registry);
        Gauge.builder("bastion.http.refusals.holding", holding, AtomicInteger::get)
                .description("503 refusals being held right now: the crowd that comes back as their holds end")
                .register(registry);
    }

    /** Sends the refusal of a request that waited {@code waitedMillis}: now, or after what its hold has left. */
    public void answer(Runnable send, long waitedMillis) {
        long hold = holdMillis(waitedMillis);
        if (hold == 0) {
            send.run();
        } else {
            holdThen(hold, send);
        }
    }

    /** Runs {@code send} after {@code hold} ms, counted among the refusals being held meanwhile. */
    private void holdThen(long hold, Runnable send) {
        holding.incrementAndGet();
        vertx.setTimer(hold, fired -> {
            holding.decrementAndGet();
            send.run();
        });
    }

    /**
     * {@link #answer(Runnable, long)} for a response built by an exception mapper, held no longer than
     * {@code requestLeftMillis}, what the request had left (it may have waited before it was refused).
     * Quarkus REST does not cancel a mapper's Uni when the caller hangs up: a held answer to a caller
     * gone is written to a closed connection, which Vert.x drops.
     */
    public Uni<Response> answer(Response refusal, long waitedMillis, long requestLeftMillis) {
        long hold = Math.min(holdMillis(waitedMillis), requestLeftMillis);
        if (hold <= 0) {
            return Uni.createFrom().item(refusal);
        }
        // counted once the hold starts, on subscription: a Uni never subscribed holds nobody
        return Uni.createFrom().emitter(emitter -> holdThen(hold, () -> emitter.complete(refusal)));
    }

    /**
     * The longest hold while {@code held} refusals are held: 2 s, or for a larger crowd long enough that
     * it comes back about {@value #HELD_REFUSALS_PER_SECOND} times a second (holds are spread over the
     * upper half, three quarters of it on average).
     */
    long longestHoldMillis(int held) {
        long forTheCrowd = held * 1000L * 4 / 3 / HELD_REFUSALS_PER_SECOND;
        return Math.max(longestHoldMillis, Math.min(crowdHoldMillis, forTheCrowd));
    }

    /** 0 to answer at once; else how long to hold this refusal, its hold less the {@code waitedMillis} already spent. */
    long holdMillis(long waitedMillis) {
        long now = System.nanoTime();
        long start = windowStart.get();
        if (now - start >= WINDOW_MILLIS * 1_000_000 && windowStart.compareAndSet(start, now)) {
            inWindow.set(0);
        }
        if (inWindow.incrementAndGet() <= AT_ONCE_PER_WINDOW) {
            return 0;
        }
        long longest = longestHoldMillis(holding.get());
        // spread: the held callers do not all come back in the same instant
        long hold = longest / 2 + ThreadLocalRandom.current().nextLong(longest / 2 + 1) - waitedMillis;
        if (hold <= 0) {
            return 0;
        }
        held.increment();
        return hold;
    }
}
