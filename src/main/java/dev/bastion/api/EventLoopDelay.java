package dev.bastion.api;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.concurrent.EventExecutor;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/**
 * How late the event loops run a task due now: the wait every step of a request (its read, its turn at
 * the door, each reply of the database, its answer) has in front of it while the cores are saturated.
 * A probe on each loop is due every {@value #PERIOD_MILLIS} ms and notes how late it ran; the figure is
 * the latest worst over the loops. Waiting for the database does not show here (a request waiting for a
 * row or a connection holds no loop): this is the CPU's queue only, which a slow or locked database
 * never fills, so shedding on it ({@link CrowdLimit}) cannot turn a partial database problem into
 * refusals of everyone.
 */
@Singleton
public class EventLoopDelay {

    static final long PERIOD_MILLIS = 5;
    private static final long PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(PERIOD_MILLIS);

    private volatile long[] latestNanos = new long[0]; // per loop; written by its loop only
    private volatile AtomicLongArray leastNanos = new AtomicLongArray(0); // per loop, since the last take
    private volatile long[] dueNanos = new long[0]; // per loop: when its pending probe is due
    private volatile boolean stopped;

    public EventLoopDelay(MeterRegistry registry) {
        Gauge.builder("bastion.http.event.loop.delay", this, delay -> delay.nanos() / 1e9)
                .description("How late the event loops ran a task due now, the worst loop's latest (a probe every "
                        + PERIOD_MILLIS + " ms): the cores' queue that every step of a request waits in")
                .baseUnit("seconds")
                .register(registry);
    }

    void start(@Observes StartupEvent started, Vertx vertx) {
        int loops = 0;
        for (EventExecutor ignored : vertx.nettyEventLoopGroup()) {
            loops++;
        }
        latestNanos = new long[loops];
        dueNanos = new long[loops];
        leastNanos = new AtomicLongArray(loops);
        for (int i = 0; i < loops; i++) {
            leastNanos.set(i, Long.MAX_VALUE);
        }
        int index = 0;
        for (EventExecutor loop : vertx.nettyEventLoopGroup()) {
            probe(loop, index++);
        }
    }

    void stop(@Observes ShutdownEvent stopping) {
        stopped = true;
    }

    /** The worst loop's latest delay, in nanoseconds. */
    public long nanos() {
        long worst = 0;
        for (long nanos : latestNanos) {
            worst = Math.max(worst, nanos);
        }
        return worst;
    }

    /**
     * The worst loop's least delay since the last take (a loop whose probe has not run since counts how late
     * that probe is now): above a target, every request on that loop waited at least that long all along.
     */
    long takeLeastOfInterval() {
        if (stopped) {
            return 0; // its probes no longer run: not a late loop
        }
        long now = System.nanoTime();
        long worst = 0;
        for (int i = 0; i < leastNanos.length(); i++) {
            long least = leastNanos.getAndSet(i, Long.MAX_VALUE);
            worst = Math.max(worst, least != Long.MAX_VALUE ? least : Math.max(0, now - dueNanos[i]));
        }
        return worst;
    }

    private void probe(EventExecutor loop, int index) {
        if (stopped || loop.isShuttingDown()) {
            return;
        }
        long due = System.nanoTime() + PERIOD_NANOS;
        dueNanos[index] = due;
        loop.schedule(() -> {
            long late = Math.max(0, System.nanoTime() - due);
            latestNanos[index] = late; // plain write: a reader may see it a probe late
            leastNanos.accumulateAndGet(index, late, Math::min);
            probe(loop, index);
        }, PERIOD_NANOS, TimeUnit.NANOSECONDS);
    }
}
