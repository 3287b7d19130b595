package dev.bastion.database;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

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
 * <li>on arrival, when the wait it can expect (waiters ahead x the recent interval between places
 * freed while callers waited) already exceeds what it may wait (DB_POOL_TIMEOUT, or what the request has left): refused
 * at once, before any connection work, with a Retry-After from that expected wait;</li>
 * <li>while waiting, when DB_POOL_TIMEOUT or the request deadline passes (one sweep every
 * {@value #SWEEP_MILLIS} ms while anyone waits, not a timer per waiter: under a crowd, setting and
 * cancelling a timer per request, often from another event loop, was work per request). A sweep
 * visits every waiter, so a long queue is swept less often ({@link #sweepIntervalMillis}): the
 * visits per second stay the same however long the queue, where 5,000 waiters swept every 20 ms
 * made the sweep the service's costliest method (9 % of its CPU).</li>
 * </ul>
 * DB_POOL_WAIT_QUEUE stays as the hard cap on waiters (memory). A count-bounded queue alone refuses
 * almost everything under a crowd although the database could serve it in time; a time bound keeps
 * serving what can be served within the deadline and refuses the rest cheaply.
 * <p>
 * The limit is the pool's size, lowered when PostgreSQL refuses new connections (SQLSTATE 53300: a
 * per-role or per-database cap, or the slots reserved for superusers): the pool then serves on the
 * connections it has, instead of failing every caller that would have needed one more. The learned
 * cap is raised by one after a backoff (1 s, doubling up to 5 min while the server keeps refusing,
 * back to 1 s once it accepts), so the pool grows again, a connection a second, when the cap is lifted
 * (see {@link #limitNow} for when a step counts as accepted).
 * The count of established connections comes from the pool's sockets (GuardedPoolCreator), not from
 * the pool's size, which also counts connections still being opened.
 */
final class PoolAdmission {

    private static final Logger LOG = Logger.getLogger(PoolAdmission.class);
    private static final long FIRST_CAP_BACKOFF_NANOS = 1_000_000_000L;
    private static final long LONGEST_CAP_BACKOFF_NANOS = 300_000_000_000L;
    static final long SWEEP_MILLIS = 20;
    static final int WAITERS_PER_SWEEP_STEP = 500;
    /**
     * The longest a caller stays parked, whatever the crowd: its next request may not be what its last one
     * was (a write, then a read), so a lane stuck behind a held row would otherwise keep the next read of
     * every connection that wrote; and a wait parked is not counted in the request's own.
     */
    static final long PARKED_AT_MOST_NANOS = 1_000_000_000L;

    private final Vertx vertx;
    private final int poolSize;
    private final int maxWaiting;
    /**
     * How many requests a lane's door holds before callers are parked: a tenth of DB_POOL_WAIT_QUEUE, the
     * memory bound on waiting requests (1,000 by default: some 3.6 MB alive), at least 64 so that the
     * door does not run dry while a resumed connection's request is read. A crowd of 1,000 is not parked
     * at all: its requests fit the young generation, and a pause and a resume per request cost more than
     * the collector saved (reads and creates 2.5 to 4 % fewer with room for 64); at 5,000 it is (10 to 11 %
     * more served with room for 1,000).
     */
    private final int doorRoom;
    private final long poolTimeoutNanos;
    /** One queue per lane (reads, writes): see {@link Lane}. */
    @SuppressWarnings("unchecked")
    private final ArrayDeque<Waiter>[] waiting = new ArrayDeque[] {new ArrayDeque<Waiter>(), new ArrayDeque<Waiter>()};
    private final int[] laneWaiters = new int[2]; // guarded by this: live waiters per lane
    private final int[] laneAdmitted = new int[2]; // guarded by this: places held per lane
    private Lane lastServed = Lane.WRITE;         // guarded by this
    private final java.util.function.Consumer<Boolean> serverCaps;
    private final java.util.concurrent.atomic.LongAdder loginsRefused = new java.util.concurrent.atomic.LongAdder();
    private final java.util.function.IntSupplier openConnections;
    private int admitted;       // guarded by this
    private int cap;            // guarded by this: learned from the server, poolSize when none
    private long capBackoffNanos = FIRST_CAP_BACKOFF_NANOS;
    private long capRetryAtNanos;
    private boolean probing;    // guarded by this: the cap was raised by one and the server has not refused it yet
    private int peakAdmitted;   // guarded by this: the most places held at once since the cap last changed
    private final java.util.concurrent.atomic.LongAdder refusedOnArrival = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder readsRiddenAlong = new java.util.concurrent.atomic.LongAdder();
    private final AtomicInteger riding = new AtomicInteger(); // riders taken, not yet answered or put back
    private final double[] sojournNanos = new double[2]; // guarded by this; per lane: how long recent waiters waited (or gave up after), smoothed: CoDel's signal
    private volatile double holdNanos = 1_000_000; // recent time an attempt holds its admission, smoothed
    private long lastReleaseNanos = System.nanoTime(); // guarded by this: when a place was last freed
    private double busyIntervalNanos = -1; // guarded by this: time between places freed while callers waited, smoothed (-1: not seen yet)
    private boolean lastReleaseBusy;       // guarded by this: callers waited when the last place was freed
    private double readsPerPlace = 1;      // guarded by this: reads a read's place answered recently (shared reads), smoothed
    private boolean sweeping;              // guarded by this: the sweep timer is set
    private final AdmissionDoor door = new AdmissionDoor(); // guarded by this: requests held before their route ran
    private final List<AdmissionDoor.Held> tooLateAtDoor = new ArrayList<>(); // guarded by this: see nextInTime
    private long parkedMayWaitNanos = Long.MAX_VALUE; // guarded by this: what the last caller parked may wait, see park
    private boolean parkingStopped;                     // guarded by this: the service is stopping

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
        static final int WAITING = 0;
        static final int GRANTED = 1;   // a place is taken for it, its delivery is on the way to its event loop
        static final int SETTLED = 2;   // delivered, or refused
        static final int CANCELLED = 3; // the caller went away (a hang-up, its deadline): the place, if any, goes back

        final UniEmitter<? super Release> emitter;
        final Context context;
        final Lane lane;
        final AtomicInteger state = new AtomicInteger(WAITING);
        final long enqueuedAt = System.nanoTime();
        final long arrivedAt;          // the request's arrival: before enqueuedAt when it waited at the door
        final long deadlineNanos;      // its wait for a place ends
        final long requestEndsAtNanos; // its request's deadline
        final SharedTurn turn;         // a read that may share its turn (see SharedTurn), or null

        Waiter(UniEmitter<? super Release> emitter, Context context, Lane lane, SharedTurn turn, long arrivedAt,
               long mayWaitNanos, long requestEndsAtNanos) {
            this.emitter = emitter;
            this.context = context;
            this.lane = lane;
            this.turn = turn;
            this.arrivedAt = arrivedAt;
            this.deadlineNanos = enqueuedAt + mayWaitNanos;
            this.requestEndsAtNanos = requestEndsAtNanos;
        }
    }

    PoolAdmission(Vertx vertx, int poolSize, int maxWaiting, long poolTimeoutNanos) {
        this(vertx, poolSize, maxWaiting, poolTimeoutNanos, capped -> { }, () -> poolSize);
    }

    /**
     * {@code serverCaps} hears whether the server caps this service below the pool's size, on every
     * change; {@code openConnections} counts the connections the pool has established (the proof that
     * the server accepted one more).
     */
    PoolAdmission(Vertx vertx, int poolSize, int maxWaiting, long poolTimeoutNanos,
                  java.util.function.Consumer<Boolean> serverCaps, java.util.function.IntSupplier openConnections) {
        this.serverCaps = serverCaps;
        this.openConnections = openConnections;
        this.vertx = vertx;
        this.poolSize = poolSize;
        this.maxWaiting = maxWaiting;
        this.poolTimeoutNanos = poolTimeoutNanos;
        this.cap = poolSize;
        this.doorRoom = Math.max(64, Math.min(1000, maxWaiting / 10));
    }

    /**
     * Admits the attempt at once when the limit allows and nobody waits (the common case: no
     * allocation beyond the release callback), else queues it until {@code gate}'s deadline or
     * DB_POOL_TIMEOUT. Emits the release to run when the attempt no longer needs its connection;
     * or, for a shared read ({@code turn} not null) that rode along with another's statement,
     * {@link #RODE}: its answer is then in {@code turn}.
     */
    Uni<Release> enter(CommitGate gate, Lane lane, SharedTurn turn) {
        return Uni.createFrom().emitter(emitter -> enter(emitter, gate, lane, turn)); // on subscription, not when assembled
    }

    private void enter(UniEmitter<? super Release> emitter, CommitGate gate, Lane lane, SharedTurn turn) {
        if (turn != null) {
            turn.newAttempt();
        }
        long start = System.nanoTime();
        int l = lane.ordinal();
        Waiter waiter = null;
        long expected = 0;
        boolean admittedNow = false;
        synchronized (this) {
            if (mayTakeAPlace(lane, start) && laneWaiters[l] == 0) {
                admitted++;
                peakAdmitted = Math.max(peakAdmitted, admitted);
                laneAdmitted[l]++;
                admittedNow = true;
            }
        }
        if (admittedNow) {
            emitter.complete(release(start, lane, null));
            return;
        }
        // DB_POOL_TIMEOUT bounds the whole wait for a place, a wait at the door (before the route ran) included
        // (for a retry of a request that waited there: the time since it arrived, which is stricter)
        long arrived = RequestStart.of(start);
        long requestLeft = gate.remainingMillis() * 1_000_000;
        long mayWait = Math.min(poolTimeoutNanos - (start - arrived), requestLeft);
        waiter = new Waiter(emitter, Vertx.currentContext(), lane, turn, arrived, mayWait, start + requestLeft);
        synchronized (this) {
            expected = expectedWaitNanos(lane, laneWaiters[l] + 1);
            if (mayTakeAPlace(lane, start) && laneWaiters[l] == 0) {
                admitted++;
                peakAdmitted = Math.max(peakAdmitted, admitted);
                laneAdmitted[l]++;
                admittedNow = true;
            } else if (laneWaiters[0] + laneWaiters[1] >= maxWaiting // the door's crowd counted when this one arrived
                    || laneWaiters[l] >= laneShare(lane) && expected >= mayWait * 4 / 5) {
                waiter = null;
            } else {
                waiting[l].add(waiter);
                laneWaiters[l]++;
                sweepSoon();
            }
        }

        if (admittedNow) {
            emitter.complete(release(start, lane, null));
            return;
        }
        if (waiter == null) {
            emitter.fail(PoolBusyException.refused(retryAfterMillis(expected), true, (start - arrived) / 1_000_000,
                    gate.remainingMillis()));
            return;
        }
        Waiter queued = waiter;
        emitter.onTermination(() -> abandoned(queued));
    }

    /** The caller stopped waiting (or was served: then nothing to do); a place already taken for it goes back. */
    private void abandoned(Waiter waiter) {
        while (true) { // a rider's turn may go back from GRANTED to WAITING meanwhile (endRiders): tried again then
            int state = waiter.state.get();
            if (state == Waiter.WAITING && waiter.state.compareAndSet(Waiter.WAITING, Waiter.CANCELLED)) {
                synchronized (this) { // its queue entry is dropped by the next poll or sweep
                    laneWaiters[waiter.lane.ordinal()]--;
                }
                return;
            }
            if (state == Waiter.GRANTED && waiter.state.compareAndSet(Waiter.GRANTED, Waiter.CANCELLED)) {
                return; // the delivery then frees the place (a rider's: there is none)
            }
            if (state == Waiter.SETTLED || state == Waiter.CANCELLED) {
                return;
            }
        }
    }

    /** Sets the sweep timer unless it is set; guarded by this. */
    private void sweepSoon() {
        if (!sweeping) {
            sweeping = true;
            vertx.setTimer(sweepIntervalMillis(waiterCount(), poolTimeoutNanos), fired -> sweep());
        }
    }

    /**
     * Every {@value #SWEEP_MILLIS} ms per {@value #WAITERS_PER_SWEEP_STEP} waiters: a waiter is refused
     * at most that late, and never later than a twentieth of DB_POOL_TIMEOUT (200 ms for 5,000 waiters
     * at the default 30 s; 2 ms at 0.05 s, a latency-first setting, where sweeping every 20 ms let
     * requests be served after waiting 40 % longer than it allows), at least every millisecond.
     */
    static long sweepIntervalMillis(int waiters, long poolTimeoutNanos) {
        long steps = Math.max(1, waiters / WAITERS_PER_SWEEP_STEP);
        return Math.max(1, Math.min(SWEEP_MILLIS * steps, poolTimeoutNanos / 20 / 1_000_000));
    }

    /** Refuses every waiter whose wait is over, drops abandoned entries; again in a while if anyone still waits. */
    private void sweep() {
        long now = System.nanoTime();
        List<Waiter> expired = new ArrayList<>();
        List<AdmissionDoor.Held> expiredAtDoor = new ArrayList<>();
        List<AdmissionDoor.Held> passing = new ArrayList<>();
        List<Runnable> resumed = new ArrayList<>();
        long[] expected = new long[2];
        synchronized (this) {
            for (Lane lane : Lane.values()) {
                int l = lane.ordinal();
                for (Iterator<Waiter> it = waiting[l].iterator(); it.hasNext();) {
                    Waiter w = it.next();
                    if (w.state.get() != Waiter.WAITING) {
                        it.remove();
                    } else if (now - w.deadlineNanos >= 0 && w.state.compareAndSet(Waiter.WAITING, Waiter.SETTLED)) {
                        it.remove();
                        laneWaiters[l]--;
                        waited(lane, now - w.enqueuedAt);
                        expired.add(w);
                    }
                }
                expected[l] = expectedWaitNanos(lane, laneWaiters[l] + door.waiting(l));
            }
            door.expire(now, expiredAtDoor);
            for (AdmissionDoor.Held held : expiredAtDoor) {
                waited(held.lane, now - held.arrivedAt);
            }
            for (Lane lane : Lane.values()) {
                // requests let in that never reached the queue inside (a 400, a stored answer) are made up for here
                for (int in = laneWaiters[lane.ordinal()]; in < doorThreshold(lane); in++) {
                    AdmissionDoor.Held next = nextInTime(lane, now);
                    if (next == null) {
                        break;
                    }
                    passing.add(next);
                }
            }
            expiredAtDoor.addAll(tooLateAtDoor);
            tooLateAtDoor.clear();
            for (Lane lane : Lane.values()) {
                unparkInto(lane, resumed, now);
            }
            sweeping = false;
            if (waiterCount() > 0 || door.parked() > 0) {
                sweepSoon();
            }
        }
        for (Runnable resume : resumed) {
            resume.run();
        }
        for (Waiter w : expired) {
            long retryAfter = retryAfterMillis(expected[w.lane.ordinal()]);
            long waited = (now - w.arrivedAt) / 1_000_000;
            long left = Math.max(0, (w.requestEndsAtNanos - now) / 1_000_000);
            OnItsContext.run(w.context, () -> w.emitter.fail(PoolBusyException.refused(retryAfter, false, waited, left)));
        }
        refusedOnArrival.add(expiredAtDoor.size()); // refused before any work too: their route never ran
        for (AdmissionDoor.Held held : expiredAtDoor) {
            held.refuse(retryAfterMillis(expected[held.lane.ordinal()]));
        }
        for (AdmissionDoor.Held held : passing) {
            held.goIn();
        }
    }

    /**
     * How many may wait inside the admission, in a lane, before arrivals wait at the door instead: two
     * rounds of the lane's share, enough that a place freed always finds a waiter ready inside while the
     * next one comes through the door.
     */
    private int doorThreshold(Lane lane) {
        int rounds = 2 * laneShare(lane);
        // counted in reads, not places, while places answer several (shared reads): two rounds of the pool
        // let in a batch of about 4 a place (measured at 1,000 callers), each place taking what the queue had;
        // in proportion to the recent batches the queue grows, and with it the batches, up to 16 rounds
        return lane == Lane.READ ? rounds * readRounds() : rounds;
    }

    /** Rounds of reads a read's place answers now: 1 without shared reads, at most 16; guarded by this. */
    private int readRounds() {
        return Math.min(16, (int) Math.ceil(readsPerPlace - 0.05)); // the average settles just above 1
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

    /**
     * The release for an admitted attempt ({@code turn}: a shared read's, or null): frees its place, or
     * hands it straight to the next waiter.
     */
    private Release release(long admittedAt, Lane lane, SharedTurn turn) {
        return succeeded -> {
            if (succeeded) {
                // failed attempts (a lost connection, a timeout) say nothing about how long serving takes
                holdNanos = holdNanos * 0.8 + (System.nanoTime() - admittedAt) * 0.2;
            }
            Waiter next;
            Waiter extra = null;
            AdmissionDoor.Held entering = null;
            AdmissionDoor.Held entering2 = null;
            List<AdmissionDoor.Held> tooLate = null;
            long[] retryAfter = null;
            Runnable resumeReader = null;
            Runnable resumeWriter = null;
            List<Runnable> ridersReplaced = null;
            synchronized (this) {
                admitted--;
                laneAdmitted[lane.ordinal()]--;
                long now = System.nanoTime();
                boolean busy = waiterCount() > 0;
                if (busy && lastReleaseBusy) { // the pace at which places free up while every one is wanted
                    long interval = now - lastReleaseNanos;
                    // slowly, and one interval counts at most 4x the pace: a crowd arriving (or hanging up) at once
                    // stalls the event loops for a moment, which is not the pool's pace; averaged over ~50 places
                    // (15 ms at 3,000/s) one such stall made the pace look 30x slower and refused callers for seconds.
                    // A database that really slows down still moves it 6 % a place, and shows in the waits first
                    busyIntervalNanos = busyIntervalNanos < 0 ? interval
                            : busyIntervalNanos * 0.98 + Math.min(interval, 4 * busyIntervalNanos) * 0.02;
                }
                lastReleaseBusy = busy;
                lastReleaseNanos = now;
                if (lane == Lane.READ) { // itself and the riders its statement answered
                    readsPerPlace = readsPerPlace * 0.95 + (1 + (turn == null ? 0 : turn.answered)) * 0.05;
                }
                next = admitNextWaiter(now);
                if (next != null) {
                    // the limit may just have stepped up (a probe after the server's cap): the new place is filled
                    // now, or the waiters inside would go on being served one for one at the old limit, and a
                    // step nobody used would count as accepted
                    extra = admitNextWaiter(now);
                }
                // one in from the door for the one gone from the queue inside (per lane: either may have moved)
                if (laneWaiters[0] < doorThreshold(Lane.READ)) {
                    entering = nextInTime(Lane.READ, now);
                }
                // and one for each rider gone with it, each with a parked caller's next request behind it: a
                // crowd let in one per place freed while each place answers up to SharedReads.most() reads
                // would soon have no riders left inside (measured: 1.3 reads a statement at 5,000 callers)
                int riders = riders(next) + riders(extra);
                if (riders > 0) {
                    ridersReplaced = new ArrayList<>(2 * riders);
                    for (int r = 0; r < riders && laneWaiters[0] < doorThreshold(Lane.READ); r++) {
                        AdmissionDoor.Held in = nextInTime(Lane.READ, now);
                        if (in == null) {
                            break;
                        }
                        ridersReplaced.add(in::goIn);
                        Runnable resume = door.waiting(0) < doorRoom ? door.unpark(0, now) : null;
                        if (resume != null) {
                            ridersReplaced.add(resume);
                        }
                    }
                }
                if (laneWaiters[1] < doorThreshold(Lane.WRITE)) {
                    entering2 = nextInTime(Lane.WRITE, now);
                }
                // one parked caller sends its next request for the one gone in from the door (the sweep tops up)
                if (door.waiting(0) < doorRoom) {
                    resumeReader = door.unpark(0, now);
                }
                if (door.waiting(1) < doorRoom) {
                    resumeWriter = door.unpark(1, now);
                }
                if (!tooLateAtDoor.isEmpty()) { // rare but for a short DB_POOL_TIMEOUT: no allocation otherwise
                    tooLate = new ArrayList<>(tooLateAtDoor);
                    tooLateAtDoor.clear();
                    retryAfter = new long[2];
                    for (Lane each : Lane.values()) {
                        retryAfter[each.ordinal()] = retryAfterMillis(expectedWaitNanos(each,
                                laneWaiters[each.ordinal()] + door.waiting(each.ordinal())));
                    }
                }
            }
            if (tooLate != null) {
                refusedOnArrival.add(tooLate.size());
                for (AdmissionDoor.Held held : tooLate) {
                    held.refuse(retryAfter[held.lane.ordinal()]);
                }
            }
            if (entering != null) {
                entering.goIn();
            }
            if (entering2 != null) {
                entering2.goIn();
            }
            if (resumeReader != null) {
                resumeReader.run();
            }
            if (resumeWriter != null) {
                resumeWriter.run();
            }
            if (ridersReplaced != null) {
                ridersReplaced.forEach(Runnable::run);
            }
            if (next != null) {
                handOver(next);
            }
            if (extra != null) {
                handOver(extra);
            }
        };
    }

    /**
     * The lane's next request at the door that can still be served in time, out of the door; null when
     * none waits. One whose wait has less left than the queue inside takes at the recent pace is not let
     * in to be refused there: it goes to {@link #tooLateAtDoor}, to be refused by the caller outside the
     * lock, as cheaply as at the door (no body read, no route). Let in, it would run its route, its guard
     * and its unit of work only to be refused by the sweep inside, through the exception mappers: with
     * a latency-first DB_POOL_TIMEOUT (0.02 s) and 5,000 callers those refusals took the cores from the
     * requests being served. Guarded by this.
     */
    private AdmissionDoor.Held nextInTime(Lane lane, long now) {
        if (door.waiting(lane.ordinal()) == 0) {
            return null; // the common case, every release: nothing to work out
        }
        // the pace alone, not what recent waiters waited: after a stall those waits are history the pool,
        // serving again, no longer imposes, and the door's oldest would be refused although they could be served
        long insideWait = pacedWaitNanos(lane, laneWaiters[lane.ordinal()] + 1);
        AdmissionDoor.Held next;
        while ((next = door.next(lane)) != null && next.deadlineNanos - now < insideWait) {
            tooLateAtDoor.add(next);
        }
        return next;
    }

    /**
     * The next waiter that may take a place now, admitted (both lanes waiting: the one not served last
     * goes first); null when none may. Guarded by this.
     */
    private Waiter admitNextWaiter(long now) {
        Lane first = lastServed == Lane.READ ? Lane.WRITE : Lane.READ;
        for (Lane candidate : first == Lane.READ ? READ_FIRST : WRITE_FIRST) {
            if (laneWaiters[candidate.ordinal()] > 0 && mayTakeAPlace(candidate, now)) {
                Waiter next = poll(candidate);
                if (next != null) {
                    admitted++;
                    peakAdmitted = Math.max(peakAdmitted, admitted);
                    laneAdmitted[candidate.ordinal()]++;
                    lastServed = candidate;
                    waited(candidate, now - next.enqueuedAt);
                    if (next.turn != null) {
                        takeRiders(next, now);
                    }
                    return next;
                }
            }
        }
        return null;
    }

    /**
     * The shared reads of the leader's group queued right behind it, up to its group's most, ride along:
     * out of the queue, answered by the leader's statement ({@link #answerRiders}). Only those already
     * waiting when the leader takes its place: the statement starts after each rider arrived, so it sees
     * every write acknowledged before. Guarded by this.
     */
    private void takeRiders(Waiter leader, long now) {
        SharedTurn turn = leader.turn;
        ArrayDeque<Waiter> queue = waiting[leader.lane.ordinal()];
        List<Waiter> riders = null;
        Waiter next;
        while ((riders == null ? 1 : 1 + riders.size()) < turn.most && (next = queue.peek()) != null) {
            if (next.state.get() != Waiter.WAITING) {
                queue.poll(); // gone: dropped, as poll does
                continue;
            }
            if (next.turn == null || next.turn.group != turn.group) {
                break;
            }
            queue.poll();
            if (next.state.compareAndSet(Waiter.WAITING, Waiter.GRANTED)) {
                laneWaiters[leader.lane.ordinal()]--;
                waited(leader.lane, now - next.enqueuedAt);
                if (riders == null) {
                    riders = new ArrayList<>();
                }
                riders.add(next);
            }
        }
        turn.riders = riders == null ? List.of() : riders;
        riding.addAndGet(turn.riders.size());
    }

    private static int riders(Waiter leader) {
        return leader == null || leader.turn == null ? 0 : leader.turn.riders.size();
    }

    /** Each rider of {@code leader} gets {@code answer} (the leader's statement's result), on its own context. */
    void answerRiders(SharedTurn leader, Object answer) {
        List<Waiter> riders = leader.takeRiders();
        riding.addAndGet(-riders.size());
        leader.answered = riders.size();
        readsRiddenAlong.add(riders.size());
        for (Waiter rider : riders) {
            rider.turn.answer = answer;
            deliver(rider);
        }
    }

    /**
     * The leader's turn ended without an answer for its riders (its statement failed, its deadline
     * passed, its caller went away before it ran): they go back to the head of the queue, in their
     * order, to be served by the next place freed, which is the leader's own when this runs before its
     * release. The failure stays the leader's: one connection lost under a batch of 32 is one failed
     * attempt, as it was before reads shared statements, not 32 (each would spend a retry of the
     * service's budget), and the next leader's statement, on another connection, usually answers them.
     * A failure that every statement meets (an outage) reaches each rider in turn as it leads. A rider
     * whose request deadline has passed is not put back: its deadline timer answers its caller.
     */
    void endRiders(SharedTurn leader) {
        List<Waiter> riders = leader.takeRiders();
        if (riders.isEmpty()) {
            return;
        }
        riding.addAndGet(-riders.size());
        long now = System.nanoTime();
        synchronized (this) {
            for (int i = riders.size() - 1; i >= 0; i--) {
                Waiter rider = riders.get(i);
                if (now - rider.requestEndsAtNanos >= 0) {
                    rider.state.compareAndSet(Waiter.GRANTED, Waiter.SETTLED);
                } else if (rider.state.compareAndSet(Waiter.GRANTED, Waiter.WAITING)) {
                    waiting[rider.lane.ordinal()].addFirst(rider);
                    laneWaiters[rider.lane.ordinal()]++;
                }
            }
            sweepSoon();
        }
    }

    private static void deliver(Waiter rider) {
        OnItsContext.run(rider.context, () -> {
            if (rider.state.compareAndSet(Waiter.GRANTED, Waiter.SETTLED)) {
                rider.emitter.complete(RODE);
            }
        });
    }

    /** Gives an admitted waiter its place, on its own context. */
    private void handOver(Waiter admittedWaiter) {
        Release itsRelease = release(System.nanoTime(), admittedWaiter.lane, admittedWaiter.turn);
        OnItsContext.run(admittedWaiter.context, () -> {
            if (admittedWaiter.state.compareAndSet(Waiter.GRANTED, Waiter.SETTLED)) {
                admittedWaiter.emitter.complete(itsRelease);
            } else { // the caller went away while its place was on the way
                if (admittedWaiter.turn != null) {
                    endRiders(admittedWaiter.turn); // before the release, which serves them next
                }
                itsRelease.done(false);
            }
        });
    }

    private static final Lane[] READ_FIRST = {Lane.READ, Lane.WRITE};
    private static final Lane[] WRITE_FIRST = {Lane.WRITE, Lane.READ};

    /** The lane's first waiter still waiting (timed-out ones are skipped), now no longer waiting; guarded by this. */
    private Waiter poll(Lane lane) {
        Waiter w;
        while ((w = waiting[lane.ordinal()].poll()) != null) {
            if (w.state.compareAndSet(Waiter.WAITING, Waiter.GRANTED)) {
                laneWaiters[lane.ordinal()]--;
                return w;
            }
        }
        return null;
    }

    /** The places a lane can count on now: all of them, or half while the other lane waits too; guarded by this. */
    private int laneShare(Lane lane) {
        int other = 1 - lane.ordinal();
        boolean otherWaits = laneWaiters[other] > 0 || door.waiting(other) > 0;
        return otherWaits ? Math.max(1, cap / 2) : cap;
    }

    /**
     * PostgreSQL refused a new connection while the pool had {@code established} connections: its
     * connection limit (53300; PgBouncer's client limits, 08P01, are the same cap), or the service's login (28xxx: a password rotated before the service's
     * Secret file followed; 42501: the CONNECT privilege revoked), which the connections already logged
     * in do not need again:
     * serve on those. Returns false when there are none, i.e. the server takes no connection at all
     * (an outage).
     */
    boolean connectionRefused(int established, String sqlState) {
        boolean pgBouncer = "08P01".equals(sqlState); // only PgBouncer's client limits are classified a cap with 08P01
        if (!"53300".equals(sqlState) && !pgBouncer) {
            loginsRefused.increment(); // served on the others, but they will not outlive DB_POOL_RECYCLE: operators must know
        }
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
            peakAdmitted = Math.min(admitted, cap);
            capRetryAtNanos = System.nanoTime() + capBackoffNanos;
            backoffSeconds = (int) (capBackoffNanos / 1_000_000_000L);
        }
        if (learned) {
            serverCaps.accept(true);
        }
        String message = "53300".equals(sqlState)
                ? "PostgreSQL refuses new connections (SQLSTATE 53300): the server allows this service %d connection(s), "
                        + "the pool may open %d (DB_POOL_SIZE + DB_MAX_OVERFLOW); serving on %d and trying one more in %d s. "
                        + "Raise the role's or database's CONNECTION LIMIT (or max_connections), or lower DB_POOL_SIZE."
                : pgBouncer
                ? "PgBouncer refuses new client connections (SQLSTATE 08P01: max_client_conn, max_db_client_connections or "
                        + "max_user_client_connections): it allows this service %d connection(s), the pool may open %d "
                        + "(DB_POOL_SIZE + DB_MAX_OVERFLOW); serving on %d and trying one more in %d s. Raise PgBouncer's limit "
                        + "to fit every replica's pool, or lower DB_POOL_SIZE."
                : "PostgreSQL refuses the service's login for new connections (SQLSTATE " + sqlState + "): serving on "
                        + "the %d connection(s) logged in earlier (the pool may open %d): no more than %d until one more is "
                        + "tried in %d s. Bring DB_PASSWORD_FILE (or DB_PASSWORD) in line with the role's password, or restore the "
                        + "role's login, its CONNECT privilege on the database and pg_hba.conf.";
        if (probeRefused) {
            LOG.debugf(message, established, poolSize, established, backoffSeconds);
        } else {
            LOG.warnf(message, established, poolSize, established, backoffSeconds);
        }
        return true;
    }

    /**
     * How many attempts may hold a connection now: the learned cap, probing one more after its backoff.
     * The one more counts as accepted unless the server refused it, with one exception: when callers
     * took every place the step allowed and the pool still holds fewer connections, no refusal proves
     * nothing. Attempts that hold a place need not all hold a connection at the same moment (a loaded
     * service spends part of each attempt on its own CPU), so the pool may never have tried to open the
     * one more; the step then waits for the connection that proves it, another backoff at a time.
     * Without such demand (a quiet service, one lane held to its share) the step is taken, so the
     * limit climbs back to the pool's size after the server's cap is lifted.
     */
    private int limitNow(long now) {
        if (cap < poolSize && now - capRetryAtNanos >= 0) {
            if (probing && peakAdmitted >= cap && openConnections.getAsInt() < cap) {
                capRetryAtNanos = now + capBackoffNanos;
                peakAdmitted = admitted;
                return cap;
            }
            if (probing) { // the server accepted the one more: the pool grows again, step by step
                capBackoffNanos = FIRST_CAP_BACKOFF_NANOS;
            }
            cap++;
            probing = true;
            peakAdmitted = admitted;
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

    /** {@link #arrive}: the request goes on now. */
    static final long PASS = -1;
    /** {@link #arrive}: the request is held at the door; its pass or refusal comes later, on its context. */
    static final long HELD = -2;

    /**
     * A request arriving, before its route runs: {@link #PASS} to go on now; {@link #HELD} when it
     * waits at the door ({@link AdmissionDoor}), while the lane's queue inside is {@link #doorThreshold
     * long}: it goes in when a place freed shortens that queue, or is refused when its wait is over;
     * or the Retry-After in milliseconds to refuse it with now: the queue ahead could not be served
     * within DB_POOL_TIMEOUT or {@code deadlineNanos}, or the hard cap is reached.
     */
    long arrive(long deadlineNanos, Lane lane, DoorRequest request) {
        long expected;
        long now = System.nanoTime();
        int l = lane.ordinal();
        AdmissionDoor.Held held;
        synchronized (this) {
            int ahead = laneWaiters[l] + door.waiting(l);
            if (ahead == 0 && mayTakeAPlace(lane, now)) {
                return PASS; // a place is free: it is taken without waiting, whatever the queue's cap (0 included)
            }
            expected = expectedWaitNanos(lane, ahead + 1);
            long mayWait = Math.min(poolTimeoutNanos, deadlineNanos);
            if (waiterCount() < maxWaiting && (ahead < laneShare(lane) || expected < mayWait * 4 / 5)) {
                if (door.waiting(l) == 0 && laneWaiters[l] < doorThreshold(lane)) {
                    return PASS;
                }
                held = door.hold(request, lane, now, mayWait);
                sweepSoon();
            } else {
                held = null;
            }
        }
        if (held == null) {
            refusedOnArrival.increment();
            return retryAfterMillis(expected);
        }
        request.onHangUp(() -> hungUpAtTheDoor(held));
        return HELD;
    }

    private synchronized void hungUpAtTheDoor(AdmissionDoor.Held held) {
        door.hungUp(held);
    }

    /**
     * A caller of {@code lane} was just answered: true when its connection is to be parked, its next
     * request left unread (in the kernel's socket buffer) until the lane's door has room; {@code
     * resume}, called then from any thread, lets it be read. Parked while the lane's door holds {@link
     * #doorRoom} requests or others of the lane are parked (first come first served), as long as the
     * whole crowd can be served well in time ({@link #parkingInTime}); otherwise its next request is
     * read and judged at the door by time, as every request is. See {@link AdmissionDoor} for why.
     */
    boolean park(long deadlineNanos, Lane lane, Runnable resume) {
        int l = lane.ordinal();
        synchronized (this) {
            if (door.parked(l) == 0 && door.waiting(l) < doorRoom) {
                return false;
            }
            parkedMayWaitNanos = Math.min(poolTimeoutNanos, deadlineNanos);
            if (!parkingInTime(lane)) {
                return false;
            }
            door.park(l, resume, System.nanoTime());
            sweepSoon(); // tops up the door and lets the parked go when the wait outside is no longer short
        }
        return true;
    }

    /** Nobody is parked any more; those parked are resumed now. */
    void stopParking() {
        List<Runnable> resumed = new ArrayList<>();
        synchronized (this) {
            parkingStopped = true;
            for (Lane lane : Lane.values()) {
                unparkInto(lane, resumed, System.nanoTime());
            }
        }
        resumed.forEach(Runnable::run);
    }

    /**
     * Whether the lane's whole crowd, parked callers included, can be served within a quarter of what a
     * request may wait: the time a request waits parked is not counted in its own wait (its arrival is
     * when it is read; the service cannot tell when the caller sent it), so parking is kept to waits
     * well within the bound. Never once the service is stopping. Guarded by this.
     */
    private boolean parkingInTime(Lane lane) {
        int l = lane.ordinal();
        return !parkingStopped && expectedWaitNanos(lane, laneWaiters[l] + door.waiting(l) + door.parked(l) + 1) < parkedMayWaitNanos / 4;
    }

    /**
     * The lane's parked callers to resume ({@code into}): while its door has room, those parked for
     * {@link #PARKED_AT_MOST_NANOS}, and all of them once the wait outside is no longer short (or the
     * service is stopping). Guarded by this.
     */
    private void unparkInto(Lane lane, List<Runnable> into, long now) {
        int l = lane.ordinal();
        if (door.parked(l) == 0) {
            return;
        }
        int room = parkingInTime(lane) ? doorRoom - door.waiting(l) : Integer.MAX_VALUE;
        Runnable resume;
        while (room-- > 0 && (resume = door.unpark(l, now)) != null) {
            into.add(resume);
        }
        while ((resume = door.unparkIfParkedBy(l, now - PARKED_AT_MOST_NANOS, now)) != null) {
            into.add(resume);
        }
    }

    /**
     * Requests refused on the router, before any work, because the pool could not serve them in time:
     * on arrival, or when their wait at the door ran out.
     */
    long refusedOnArrival() {
        return refusedOnArrival.sum();
    }

    /** Reads answered by another read's statement, having waited for the pool with it ({@link SharedTurn}). */
    long readsRiddenAlong() {
        return readsRiddenAlong.sum();
    }

    /** New connections PostgreSQL refused for the login (credentials, CONNECT) while others were logged in. */
    long loginsRefused() {
        return loginsRefused.sum();
    }

    /**
     * The connection limit learned from the server, or the pool size when it refused nothing. While one
     * more connection is being tried (probing), the limit is still the one the server confirmed.
     */
    synchronized int limit() {
        return probing ? cap - 1 : cap;
    }

    /** Callers parked outside the door: their connections' next requests are not read yet (see {@link #park}). */
    synchronized int parked() {
        return door.parked();
    }

    /** Seconds callers have spent parked, summed as each is resumed (see {@link AdmissionDoor#parkedNanos}). */
    synchronized double parkedSeconds() {
        return door.parkedNanos() / 1e9;
    }

    /** Reads waiting for the statement of the read they ride along with ({@link SharedTurn}). */
    int riding() {
        return riding.get();
    }

    /** Requests waiting, inside and at the door (callers parked outside it are {@link #parked}). */
    synchronized int waiters() {
        return waiterCount();
    }

    /** Callers waiting in both lanes (cancelled and timed-out ones no longer count); guarded by this. */
    private int waiterCount() {
        return laneWaiters[0] + laneWaiters[1] + door.waiting();
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
        // every place busy and none freed for this long: the next one will not come sooner
        long stalled = admitted >= cap && waiterCount() >= cap ? System.nanoTime() - lastReleaseNanos : 0;
        return Math.max(Math.max(pacedWaitNanos(lane, position), (long) sojournNanos[lane.ordinal()]), stalled);
    }

    /** The queue ahead of {@code position} served at the recent pace; guarded by this. */
    private long pacedWaitNanos(Lane lane, int position) {
        // the pace measured while callers waited is what the pool really serves (Little's law); the time
        // an attempt holds its place also counts its callbacks' turn on a crowded event loop, so that
        // pace alone, once per place, refused callers a crowd could have served in time
        // a read's place answers several queued reads while they share statements (the average, not rounded up)
        double perPlace = lane == Lane.READ ? Math.min(16, Math.max(1, readsPerPlace)) : 1;
        return (long) (busyIntervalNanos >= 0
                ? position * busyIntervalNanos * cap / laneShare(lane) / perPlace
                : position * holdNanos / laneShare(lane) / perPlace);
    }

    /** Guarded by this. */
    private void waited(Lane lane, long nanos) {
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

    /** What a shared read that rode along gets instead of a place: there is nothing to release. */
    static final Release RODE = succeeded -> { };

    /**
     * A read that may share its turn at the pool with others of its group ({@link SharedReads}). Taken
     * from the queue with a place, it is the leader: the group's reads queued right behind it ride
     * along ({@link #takeRiders}), and its one statement answers them all. Taken as a rider, its
     * attempt is answered by the leader's statement ({@link #answer}) and holds no
     * place. Only a queue of waiters forms riders: a pool with a free place runs each read on its own,
     * so sharing costs nothing until the pool is the bottleneck. One per unit of work, renewed for each
     * attempt; used by one attempt at a time.
     */
    static final class SharedTurn {
        final Object group;
        final Object key;
        final int most;
        private List<Waiter> riders = List.of(); // as leader: set under the admission's lock before its emission
        private Object answer;                   // as rider: set before its emission (RODE)
        private int answered;                    // as leader: the riders its statement answered

        SharedTurn(Object group, Object key, int most) {
            this.group = group;
            this.key = key;
            this.most = most;
        }

        private void newAttempt() {
            riders = List.of();
            answer = null;
            answered = 0;
        }

        /** As leader: whether reads ride along (else its statement reads its own key alone). */
        boolean hasRiders() {
            return !riders.isEmpty();
        }

        /** The keys the leader's statement reads: its own and its riders'. */
        List<Object> keys() {
            List<Object> keys = new ArrayList<>(1 + riders.size());
            keys.add(key);
            for (Waiter rider : riders) {
                keys.add(rider.turn.key);
            }
            return keys;
        }

        /** As rider: what the leader's statement answered (the group's result for all its keys). */
        Object answer() {
            return answer;
        }

        /** As leader: its riders, now no longer its to answer. */
        private List<Waiter> takeRiders() {
            List<Waiter> taken = riders;
            riders = List.of();
            return taken;
        }
    }

    /** Refused by the admission: no connection was taken, nothing was sent to the database. */
    static final class PoolBusyException extends RefusedAttemptException {
        private PoolBusyException(long retryAfterMillis, boolean atOnce, long waitedMillis, long requestLeftMillis) {
            super(FailureKind.POOL_EXHAUSTED, retryAfterMillis, atOnce, waitedMillis, requestLeftMillis);
        }

        /**
         * {@code atOnce}: on arrival (the queue is full, or too slow); else after the wait ran out.
         * {@code waitedMillis}: since the request arrived, its wait at the door included.
         */
        static PoolBusyException refused(long retryAfterMillis, boolean atOnce, long waitedMillis, long requestLeftMillis) {
            return new PoolBusyException(retryAfterMillis, atOnce, waitedMillis, requestLeftMillis);
        }
    }
}
