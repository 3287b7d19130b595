package dev.bastion.api;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.UnitOfWork;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/**
 * How many API requests may be on the cores at once while they are saturated: a latency-first limit,
 * judged by the event loops' delay ({@link EventLoopDelay}), not by the database's.
 *
 * <p>Why: a crowd that the pool serves quickly (reads sharing statements) waits for the CPU, not the
 * database. With 1,000 callers every step of a request waited behind the others on its event loop (13 ms
 * at the median, 110 ms at worst) and a served read took 37 ms at the median where 20 callers took 1 ms,
 * for no more reads a second. Serving fewer at once serves nearly as many, sooner; the rest are refused
 * before anything is done for them and held ({@link RefusalHold}), so they come back later instead of
 * lengthening the queue (bench/throughput/compare.py: served p99 at 1,000 readers 75 → 8 ms, 95 % of the
 * 20-caller rate served).
 *
 * <p>The rule, every {@value #INTERVAL_MILLIS} ms: when the event loops' delay stayed above {@value
 * #TARGET_MICROS} µs for the whole interval (its least, as CoDel judges a standing queue: a spike is not a
 * queue, over CoDel's 100 ms; two such intervals in a row to set a limit at all), the limit falls in proportion to the requests on the cores (Little's law: a queue that many
 * times too long), by half at most and never below the floor; when the delay is back under the target
 * while the limit refused, it rises by a sixteenth. A limit that has not refused for a second, the crowd
 * gone, is lifted. A crowd arriving at once (more than eight floors on the cores while the loops are late)
 * is refused before an interval has passed. The floor, two pools' worth (32 at least), keeps the pool and
 * the cores busy: a limit of one pool's worth served 15 % fewer reads at 1,000 callers, 12 % fewer at 5,000.
 *
 * <p>Requests waiting for the database (for a place in the pool, a hot row, a shared statement) hold no
 * core and do not count: a locked table, a slow database or a full pool never lower the limit, and
 * never refuse requests that have nothing to do with them.
 */
@Singleton
public class CrowdLimit {

    static final long INTERVAL_MILLIS = 100;
    static final long TARGET_MICROS = 500;
    private static final long TARGET_NANOS = TARGET_MICROS * 1000;
    static final int NONE = Integer.MAX_VALUE;
    /** Intervals without a refusal (and the crowd well under the limit) after which the limit is lifted. */
    static final int QUIET_INTERVALS = 10;

    private final EventLoopDelay delay;
    private final UnitOfWork unitOfWork;
    private final int floor;
    private final int surge; // on cores at once, beyond which late loops refuse without waiting for the rule
    private final AtomicInteger inFlight = new AtomicInteger();
    private final LongAdder refused = new LongAdder();
    private volatile int limit = NONE;
    /** Requests in the service waiting for the database, as of the last update: they hold no core. */
    private volatile int waitingForDatabase;
    private final Rule rule;
    private long refusedBefore; // on the update's timer only
    private volatile Runnable stopTimer = () -> { };

    public CrowdLimit(EventLoopDelay delay, UnitOfWork unitOfWork, DatabaseSettings settings, MeterRegistry registry) {
        this.delay = delay;
        this.unitOfWork = unitOfWork;
        this.floor = Math.max(32, 2 * settings.poolSize());
        this.rule = new Rule(floor);
        this.surge = 8 * floor;
        Gauge.builder("bastion.http.crowd.limit", this, crowd -> crowd.limit == NONE ? 0 : crowd.limit)
                .description("API requests let onto the cores at once while the event loops are saturated (0: no limit)")
                .register(registry);
        Gauge.builder("bastion.http.crowd.in.flight", inFlight, AtomicInteger::get)
                .description("API requests in the service: let in and not answered yet")
                .register(registry);
        FunctionCounter.builder("bastion.http.crowd.refusals", refused, LongAdder::sum)
                .description("API requests refused on arrival because the event loops were saturated (the crowd limit)")
                .register(registry);
    }

    void start(@Observes StartupEvent started, Vertx vertx) {
        long timer = vertx.setPeriodic(INTERVAL_MILLIS, tick -> update());
        stopTimer = () -> vertx.cancelTimer(timer);
    }

    /** Stopping: the loops' probes stop too, and a stopped probe would read as a late loop. */
    void stop(@Observes ShutdownEvent stopping) {
        stopTimer.run();
    }

    /** A request arrives: true when it may go on ({@link #leave} when it is answered), false to refuse it. */
    boolean enter() {
        int in = inFlight.incrementAndGet();
        int onCores = in - waitingForDatabase;
        // a crowd arriving at once is turned away before the next interval sets a limit: in the 100 ms a
        // surge takes to be seen (an interval), 1,000 callers were all let in and each waited behind all the others.
        // Those waiting for the database are counted now, not as of the last interval: a burst of reads
        // queued behind a locked table is no surge on the cores (a rare check: only beyond eight floors)
        if (onCores > limit || onCores > surge && delay.nanos() > TARGET_NANOS && in - unitOfWork.waitingForDatabase() > surge) {
            inFlight.decrementAndGet();
            refused.increment();
            return false;
        }
        return true;
    }

    void leave() {
        inFlight.decrementAndGet();
    }

    /** The Retry-After of a refusal: a second or the event loops' delay if longer, spread up to twice it. */
    long retryAfterMillis() {
        long base = Math.max(1000, delay.nanos() / 1_000_000);
        return base + ThreadLocalRandom.current().nextLong(base + 1);
    }

    private void update() {
        long late = delay.takeLeastOfInterval();
        int waiting = unitOfWork.waitingForDatabase();
        waitingForDatabase = waiting;
        long refusedNow = refused.sum();
        limit = rule.next(limit, late, inFlight.get() - waiting, refusedNow != refusedBefore);
        refusedBefore = refusedNow;
    }

    /** The rule alone, clocks and counters left out: what the limit becomes after an interval. One timer runs it. */
    static final class Rule {

        private final int floor;
        private int quietIntervals;
        private int crowdedIntervals; // in a row, late loops with more than the floor on the cores

        Rule(int floor) {
            this.floor = floor;
        }

        /**
         * @param current   the limit, {@link #NONE} when there is none
         * @param lateNanos the event loops' least delay in the interval (the worst loop's)
         * @param onCores   requests in the service not waiting for the database
         * @param refused   whether the limit refused a request in the interval
         */
        int next(int current, long lateNanos, int onCores, boolean refused) {
            if (lateNanos > TARGET_NANOS) {
                quietIntervals = 0;
                if (onCores <= floor) {
                    crowdedIntervals = 0;
                    return current; // the cores' queue is not this crowd's: a floor's worth of requests always goes in
                }
                if (current == NONE && ++crowdedIntervals < 2) {
                    return NONE; // a burst (80 creates read at once, their bodies still arriving) is gone by the next interval
                }
                // Little's law: the queue is lateNanos / target times too long for the requests in it
                long proportional = Math.max(onCores / 2, onCores * TARGET_NANOS / lateNanos);
                return (int) Math.max(floor, Math.min(current, proportional));
            }
            crowdedIntervals = 0;
            if (current == NONE) {
                return NONE;
            }
            if (refused) {
                quietIntervals = 0;
                return current + Math.max(1, current / 16);
            }
            if (++quietIntervals >= QUIET_INTERVALS && onCores < current / 2) {
                quietIntervals = 0;
                return NONE;
            }
            return current;
        }
    }
}
