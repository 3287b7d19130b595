package dev.bastion.database;

import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import org.jboss.logging.Logger;

/**
 * Admits attempts to the pool: at most {@link #limit()} hold (or wait inside the pool for) a
 * connection at once; the others wait here, in memory, first come first served, and are refused
 * by <em>time</em>, not by count:
 * <ul>
 * <li>on arrival, when the wait it can expect (waiters ahead x recent connection hold time /
 * limit) already exceeds what it may wait (DB_POOL_TIMEOUT, or what the request has left): refused
 * at once, before any connection work, with a Retry-After from that expected wait;</li>
 * <li>while waiting, when DB_POOL_TIMEOUT or the request deadline passes.</li>
 * </ul>
 * DB_POOL_WAIT_QUEUE stays as the hard cap on waiters (memory). A count-bounded queue alone refuses
 * almost everything under a crowd although the database could serve it in time; a time bound keeps
 * serving what can be served within the deadline and refuses the rest cheaply.
 * <p>
 * The limit is the pool's size, lowered when PostgreSQL refuses new connections (SQLSTATE 53300: a
 * per-role or per-database cap, or the slots reserved for superusers): the pool then serves on the
 * connections it has, instead of failing every caller that would have needed one more. The learned
 * cap is raised by one after a backoff (1 s, doubling up to 5 min while the server keeps refusing,
 * back to 1 s once it accepts), so the pool grows again, a connection a second, when the cap is lifted.
 * The count of established connections comes from the pool's sockets (GuardedPoolCreator), not from
 * the pool's size, which also counts connections still being opened.
 */
final class PoolAdmission {

    private static final Logger LOG = Logger.getLogger(PoolAdmission.class);
    private static final long FIRST_CAP_BACKOFF_NANOS = 1_000_000_000L;
    private static final long LONGEST_CAP_BACKOFF_NANOS = 300_000_000_000L;

    private final Vertx vertx;
    private final int poolSize;
    private final int maxWaiting;
    private final long poolTimeoutNanos;
    /** One queue per lane (reads, writes): see {@link Lane}. */
    @SuppressWarnings("unchecked")
    private final ArrayDeque<Waiter>[] waiting = new ArrayDeque[] {new ArrayDeque<Waiter>(), new ArrayDeque<Waiter>()};
    private final int[] laneWaiters = new int[2]; // guarded by this: live waiters per lane
    private final int[] laneAdmitted = new int[2]; // guarded by this: places held per lane
    private Lane lastServed = Lane.WRITE;         // guarded by this
    private final java.util.function.Consumer<Boolean> serverCaps;
    private int admitted;       // guarded by this
    private int liveWaiters;    // guarded by this: waiters not yet timed out
    private int cap;            // guarded by this: learned from the server, poolSize when none
    private long capBackoffNanos = FIRST_CAP_BACKOFF_NANOS;
    private long capRetryAtNanos;
    private boolean probing;    // guarded by this: the cap was raised by one and the server has not refused it yet
    private final java.util.concurrent.atomic.LongAdder refusedOnArrival = new java.util.concurrent.atomic.LongAdder();
    private final double[] sojournNanos = new double[2]; // per lane: how long recent waiters waited (or gave up after), smoothed: CoDel's signal
    private volatile double holdNanos = 1_000_000;
    private volatile long lastReleaseNanos = System.nanoTime(); // recent time an attempt holds its admission, smoothed

    /**
     * Reads and writes wait in lanes of their own and, while both wait, take freed places in turn;
     * neither may hold more than {@link #laneLimit()} places (a quarter of them stays for the other
     * lane, in pools of 8 or more). A crowd of one kind cannot starve the other: writes stuck behind
     * a table lock hold at most three quarters of the pool while reads go on in the rest, and a flood
     * of reads leaves writes their turn. Each lane's expected wait, by which arrivals are refused,
     * counts only its own queue at its share of the pool.
     */
    enum Lane {
        READ, WRITE;

        static Lane of(boolean readOnly) {
            return readOnly ? READ : WRITE;
        }
    }

    private static final class Waiter {
        final UniEmitter<? super Release> emitter;
        final Context context;
        final Lane lane;
        final AtomicBoolean done = new AtomicBoolean();
        final long enqueuedAt = System.nanoTime();
        long timer = -1;

        Waiter(UniEmitter<? super Release> emitter, Context context, Lane lane) {
            this.emitter = emitter;
            this.context = context;
            this.lane = lane;
        }

        /**
         * On the waiter's own event loop, as a task of its own: never inside the releasing attempt's
         * stack (a chain of attempts that fail at once would otherwise nest one frame per waiter).
         */
        void onItsContext(Runnable action) {
            if (context == null) {
                action.run();
            } else {
                context.runOnContext(ignored -> action.run());
            }
        }
    }

    PoolAdmission(Vertx vertx, int poolSize, int maxWaiting, long poolTimeoutNanos) {
        this(vertx, poolSize, maxWaiting, poolTimeoutNanos, capped -> { });
    }

    /** {@code serverCaps} hears whether the server caps this service below the pool's size, on every change. */
    PoolAdmission(Vertx vertx, int poolSize, int maxWaiting, long poolTimeoutNanos,
                  java.util.function.Consumer<Boolean> serverCaps) {
        this.serverCaps = serverCaps;
        this.vertx = vertx;
        this.poolSize = poolSize;
        this.maxWaiting = maxWaiting;
        this.poolTimeoutNanos = poolTimeoutNanos;
        this.cap = poolSize;
    }

    /**
     * Admits the attempt at once when the limit allows and nobody waits (the common case: no
     * allocation beyond the release callback), else queues it until {@code gate}'s deadline or
     * DB_POOL_TIMEOUT. Emits the release to run when the attempt no longer needs its connection.
     */
    Uni<Release> enter(CommitGate gate, Lane lane) {
        return Uni.createFrom().emitter(emitter -> enter(emitter, gate, lane)); // on subscription, not when assembled
    }

    private void enter(UniEmitter<? super Release> emitter, CommitGate gate, Lane lane) {
        long start = System.nanoTime();
        int l = lane.ordinal();
        Waiter waiter = null;
        long expected = 0;
        boolean admittedNow = false;
        synchronized (this) {
            if (mayTakeAPlace(lane, start) && laneWaiters[l] == 0) {
                admitted++;
                laneAdmitted[l]++;
                admittedNow = true;
            }
        }
        if (admittedNow) {
            emitter.complete(release(start, lane));
            return;
        }
        long mayWait = Math.min(poolTimeoutNanos, gate.remainingMillis() * 1_000_000);
        waiter = new Waiter(emitter, Vertx.currentContext(), lane);
        synchronized (this) {
            expected = expectedWaitNanos(lane, laneWaiters[l] + 1);
            if (mayTakeAPlace(lane, start) && laneWaiters[l] == 0) {
                admitted++;
                laneAdmitted[l]++;
                admittedNow = true;
            } else if (liveWaiters >= maxWaiting || laneWaiters[l] >= laneShare(lane) && expected >= mayWait * 4 / 5) {
                waiter = null;
            } else {
                waiting[l].add(waiter);
                liveWaiters++;
                laneWaiters[l]++;
            }
        }

        if (admittedNow) {
            emitter.complete(release(start, lane));
            return;
        }
        if (waiter == null) {
            emitter.fail(PoolBusyException.refused(retryAfterMillis(expected)));
            return;
        }
        Waiter queued = waiter; // its own timer, on its own event loop: every waiter leaves the queue on time
        queued.timer = vertx.setTimer(Math.max(1, mayWait / 1_000_000), fired -> timedOut(queued));
    }

    /** A place is free and the lane holds fewer than its limit; guarded by this. */
    private boolean mayTakeAPlace(Lane lane, long now) {
        return admitted < limitNow(now) && laneAdmitted[lane.ordinal()] < laneLimit();
    }

    /**
     * The most places one lane may hold: all but a quarter kept for the other, once the limit is 8 or
     * more. A smaller pool is not split: a quarter of it would take one or two connections from work
     * that needs them (a held row's bystanders, say).
     */
    private int laneLimit() {
        return cap >= 8 ? cap - cap / 4 : cap;
    }

    private void timedOut(Waiter waiter) {
        if (waiter.done.compareAndSet(false, true)) {
            waited(waiter.lane, System.nanoTime() - waiter.enqueuedAt);
            long expected;
            synchronized (this) {
                liveWaiters--;
                laneWaiters[waiter.lane.ordinal()]--;
                expected = expectedWaitNanos(waiter.lane, laneWaiters[waiter.lane.ordinal()]);
            }
            waiter.emitter.fail(PoolBusyException.refused(retryAfterMillis(expected)));
        }
    }

    /** The release for an admitted attempt: frees its place, or hands it straight to the next waiter. */
    private Release release(long admittedAt, Lane lane) {
        return succeeded -> {
            lastReleaseNanos = System.nanoTime();
            if (succeeded) {
                // failed attempts (a lost connection, a timeout) say nothing about how long serving takes
                holdNanos = holdNanos * 0.8 + (System.nanoTime() - admittedAt) * 0.2;
            }
            Waiter next = null;
            synchronized (this) {
                admitted--;
                laneAdmitted[lane.ordinal()]--;
                long now = System.nanoTime();
                // both lanes waiting: the one not served last goes first, if it may take another place
                Lane first = lastServed == Lane.READ ? Lane.WRITE : Lane.READ;
                for (Lane candidate : first == Lane.READ ? READ_FIRST : WRITE_FIRST) {
                    if (laneWaiters[candidate.ordinal()] > 0 && mayTakeAPlace(candidate, now)) {
                        next = poll(candidate);
                        if (next != null) {
                            admitted++;
                            laneAdmitted[candidate.ordinal()]++;
                            lastServed = candidate;
                            break;
                        }
                    }
                }
            }
            if (next != null) {
                Waiter admittedWaiter = next;
                waited(admittedWaiter.lane, System.nanoTime() - admittedWaiter.enqueuedAt);
                vertx.cancelTimer(admittedWaiter.timer);
                Release itsRelease = release(System.nanoTime(), admittedWaiter.lane);
                admittedWaiter.onItsContext(() -> admittedWaiter.emitter.complete(itsRelease));
            }
        };
    }

    private static final Lane[] READ_FIRST = {Lane.READ, Lane.WRITE};
    private static final Lane[] WRITE_FIRST = {Lane.WRITE, Lane.READ};

    /** The lane's first waiter still waiting (timed-out ones are skipped), now no longer waiting; guarded by this. */
    private Waiter poll(Lane lane) {
        Waiter w;
        while ((w = waiting[lane.ordinal()].poll()) != null) {
            if (w.done.compareAndSet(false, true)) {
                liveWaiters--;
                laneWaiters[lane.ordinal()]--;
                return w;
            }
        }
        return null;
    }

    /** The places a lane can count on now: all of them, or half while the other lane waits too; guarded by this. */
    private int laneShare(Lane lane) {
        boolean otherWaits = laneWaiters[1 - lane.ordinal()] > 0;
        return otherWaits ? Math.max(1, cap / 2) : cap;
    }

    /**
     * PostgreSQL refused a new connection (53300) while the pool had {@code established} connections:
     * serve on those. Returns false when there are none, i.e. the server takes no connection at all
     * (an outage).
     */
    boolean connectionRefused(int established) {
        if (established <= 0) {
            return false;
        }
        boolean learned;
        boolean probeRefused;
        int backoffSeconds;
        synchronized (this) {
            learned = cap == poolSize;
            probeRefused = probing;
            if (established >= cap) {
                return true; // a refusal already accounted for (the pool tried before the cap was lowered)
            }
            if (probing) { // the one more connection tried after the backoff was refused again: wait longer
                capBackoffNanos = Math.min(capBackoffNanos * 2, LONGEST_CAP_BACKOFF_NANOS);
                probing = false;
            }
            cap = established;
            capRetryAtNanos = System.nanoTime() + capBackoffNanos;
            backoffSeconds = (int) (capBackoffNanos / 1_000_000_000L);
        }
        if (learned) {
            serverCaps.accept(true);
        }
        String message = "PostgreSQL refuses new connections (SQLSTATE 53300): the server allows this service %d connection(s), "
                + "the pool may open %d (DB_POOL_SIZE + DB_MAX_OVERFLOW); serving on %d and trying one more in %d s. "
                + "Raise the role's or database's CONNECTION LIMIT (or max_connections), or lower DB_POOL_SIZE.";
        if (probeRefused) {
            LOG.debugf(message, established, poolSize, established, backoffSeconds);
        } else {
            LOG.warnf(message, established, poolSize, established, backoffSeconds);
        }
        return true;
    }

    /** How many attempts may hold a connection now: the learned cap, probing one more after its backoff. */
    private int limitNow(long now) {
        if (cap < poolSize && now - capRetryAtNanos >= 0) {
            if (probing) { // the last one more was not refused: the server lets the pool grow again, step by step
                capBackoffNanos = FIRST_CAP_BACKOFF_NANOS;
            }
            cap++;
            probing = true;
            capRetryAtNanos = now + capBackoffNanos;
            if (cap == poolSize) {
                capBackoffNanos = FIRST_CAP_BACKOFF_NANOS;
                probing = false;
                serverCaps.accept(false);
                LOG.infof("The pool may use all %d connections again", poolSize);
            }
        }
        return cap;
    }

    /**
     * Whether a request arriving now would be refused (the queue ahead could not be served within
     * DB_POOL_TIMEOUT or {@code deadlineNanos}, or the hard cap is reached): the Retry-After to answer
     * with, or -1 to let it in. Read without taking a place, for a refusal before any work.
     */
    long refuseOnArrival(long deadlineNanos, Lane lane) {
        long expected;
        synchronized (this) {
            int ahead = laneWaiters[lane.ordinal()];
            if (ahead < laneShare(lane) && liveWaiters < maxWaiting) {
                return -1;
            }
            expected = expectedWaitNanos(lane, ahead + 1);
            if (liveWaiters < maxWaiting && expected < Math.min(poolTimeoutNanos, deadlineNanos) * 4 / 5) {
                return -1;
            }
        }
        refusedOnArrival.increment();
        return retryAfterMillis(expected);
    }

    /** Requests refused on the router, before any work, because the pool could not serve them in time. */
    long refusedOnArrival() {
        return refusedOnArrival.sum();
    }

    /**
     * The connection limit learned from the server, or the pool size when it refused nothing. While one
     * more connection is being tried (probing), the limit is still the one the server confirmed.
     */
    synchronized int limit() {
        return probing ? cap - 1 : cap;
    }

    synchronized int waiters() {
        return liveWaiters;
    }

    /**
     * The wait a newcomer at {@code position} can expect: the queue ahead served at the recent pace,
     * what recent waiters really waited, or how long no place has been freed while all are taken,
     * whichever is longest (a database that became slow shows in the last two first: attempts stop
     * finishing, waiters time out). Arrivals are only refused on this
     * estimate while a full round of the pool is queued, so the estimate keeps being renewed by
     * waiters and recovers with the database.
     */
    private long expectedWaitNanos(Lane lane, int position) {
        double paced = position * holdNanos / laneShare(lane);
        // every place busy and none freed for this long: the next one will not come sooner
        long stalled = admitted >= cap && liveWaiters >= cap ? System.nanoTime() - lastReleaseNanos : 0;
        return (long) Math.max(Math.max(paced, sojournNanos[lane.ordinal()]), stalled);
    }

    private synchronized void waited(Lane lane, long nanos) {
        sojournNanos[lane.ordinal()] = sojournNanos[lane.ordinal()] * 0.7 + nanos * 0.3;
    }

    /** Spread retries: between the expected wait and twice it, at least a second. */
    private static long retryAfterMillis(long expectedWaitNanos) {
        long base = Math.max(1000, expectedWaitNanos / 1_000_000);
        return base + ThreadLocalRandom.current().nextLong(base + 1);
    }

    /** Ends an admitted attempt's turn; {@code succeeded} says whether its time tells how long serving takes. */
    interface Release {
        void done(boolean succeeded);
    }

    /** Refused by the admission: no connection was taken, nothing was sent to the database. */
    static final class PoolBusyException extends RefusedAttemptException {
        private PoolBusyException(long retryAfterMillis) {
            super(FailureKind.POOL_EXHAUSTED, retryAfterMillis);
        }

        static PoolBusyException refused(long retryAfterMillis) {
            return new PoolBusyException(retryAfterMillis);
        }
    }
}
