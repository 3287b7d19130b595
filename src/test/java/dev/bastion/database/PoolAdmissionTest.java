package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import dev.bastion.testing.Await;
import io.smallrye.mutiny.subscription.Cancellable;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The admission's queue on its own (no database: what is tested is who holds a place, not what the
 * database does with it): waiters leave on time without a timer each, a caller that goes away gives
 * its place back, and the expected wait follows the pace at which places are freed.
 */
class PoolAdmissionTest {

    private static final long SECOND = 1_000_000_000L;

    private final Vertx vertx = Vertx.vertx();

    @AfterEach
    void close() {
        vertx.close().toCompletionStage().toCompletableFuture().join();
    }

    private static CommitGate deadlineIn(long nanos) {
        return new CommitGate(System.nanoTime() + nanos);
    }

    private static List<PoolAdmission.Release> takeEveryPlace(PoolAdmission admission, int pool) throws Exception {
        List<PoolAdmission.Release> holding = new ArrayList<>();
        for (int i = 0; i < pool; i++) {
            holding.add(enter(admission, 30 * SECOND).get(5, TimeUnit.SECONDS));
        }
        return holding;
    }

    /**
     * Frees {@code count} places a millisecond apart, from the {@code from}-th: first those held from the
     * start, then those the crowd was given, in its order (each freed place goes to the next waiter).
     */
    private static void freeOneByOne(List<PoolAdmission.Release> holding, List<CompletableFuture<PoolAdmission.Release>> crowd,
                                     int from, int count) throws Exception {
        freeOneByOne(holding, crowd, from, count, 1);
    }

    /** As above, {@code pauseMillis} apart (0: as fast as each freed place reaches its waiter). */
    private static void freeOneByOne(List<PoolAdmission.Release> holding, List<CompletableFuture<PoolAdmission.Release>> crowd,
                                     int from, int count, long pauseMillis) throws Exception {
        for (int i = from; i < from + count; i++) {
            (i < holding.size() ? holding.get(i) : crowd.get(i - holding.size()).get(5, TimeUnit.SECONDS)).done(true);
            if (pauseMillis > 0) {
                Thread.sleep(pauseMillis);
            }
        }
    }

    /** {@code count} callers waiting for a place, with 30 s to spare each. */
    private static List<CompletableFuture<PoolAdmission.Release>> queue(PoolAdmission admission, int count) {
        List<CompletableFuture<PoolAdmission.Release>> crowd = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            crowd.add(enter(admission, 30 * SECOND));
        }
        return crowd;
    }

    private static CompletableFuture<PoolAdmission.Release> enter(PoolAdmission admission, long deadlineNanos) {
        return admission.enter(deadlineIn(deadlineNanos), PoolAdmission.Lane.READ, null).subscribeAsCompletionStage();
    }

    @Test
    void aWaiterIsRefusedOnceItsWaitIsOverThoughNothingIsFreed() throws Exception {
        long poolTimeout = SECOND / 5;
        PoolAdmission admission = new PoolAdmission(vertx, 1, 100, poolTimeout);
        enter(admission, 30 * SECOND).get(5, TimeUnit.SECONDS); // the only place, never given back here

        long start = System.nanoTime();
        CompletableFuture<PoolAdmission.Release> waiting = enter(admission, 30 * SECOND);
        assertEquals(1, admission.waiters());
        Throwable refused = waiting.handle((release, failure) -> failure).get(5, TimeUnit.SECONDS);
        long waited = System.nanoTime() - start;

        assertInstanceOf(PoolAdmission.PoolBusyException.class, refused);
        assertTrue(waited >= poolTimeout, "left before its time: " + waited / 1_000_000 + " ms");
        // one sweep late at most, plus the scheduling of a loaded machine
        assertTrue(waited < poolTimeout + 2 * PoolAdmission.SWEEP_MILLIS * 1_000_000 + SECOND,
                "left " + waited / 1_000_000 + " ms after arriving, for a wait of " + poolTimeout / 1_000_000 + " ms");
        assertEquals(0, admission.waiters());
    }

    @Test
    void aLongQueueIsSweptLessOftenAndStillRefusedOnTime() throws Exception {
        // the visits per second stay the same: 20 ms per 500 waiters, never later than a twentieth of the pool timeout
        assertEquals(20, PoolAdmission.sweepIntervalMillis(1, 30 * SECOND));
        assertEquals(20, PoolAdmission.sweepIntervalMillis(499, 30 * SECOND));
        assertEquals(20, PoolAdmission.sweepIntervalMillis(500, 30 * SECOND));
        assertEquals(40, PoolAdmission.sweepIntervalMillis(1000, 30 * SECOND));
        assertEquals(200, PoolAdmission.sweepIntervalMillis(5000, 30 * SECOND));
        assertEquals(50, PoolAdmission.sweepIntervalMillis(5000, SECOND));
        assertEquals(5, PoolAdmission.sweepIntervalMillis(5000, SECOND / 10));
        assertEquals(2, PoolAdmission.sweepIntervalMillis(1, SECOND / 20)); // a latency-first DB_POOL_TIMEOUT
        assertEquals(1, PoolAdmission.sweepIntervalMillis(1, SECOND / 1000));

        long poolTimeout = SECOND;
        PoolAdmission admission = new PoolAdmission(vertx, 1, 10_000, poolTimeout);
        enter(admission, 30 * SECOND).get(5, TimeUnit.SECONDS); // the only place, never given back here
        long start = System.nanoTime();
        List<CompletableFuture<Long>> crowd = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            crowd.add(enter(admission, 30 * SECOND).handle((release, failure) -> {
                assertInstanceOf(PoolAdmission.PoolBusyException.class, failure);
                // those the queue ahead could not have served in time are refused on arrival
                return ((PoolAdmission.PoolBusyException) failure).atOnce() ? -1 : System.nanoTime() - start;
            }));
        }
        int queued = 0;
        for (CompletableFuture<Long> caller : crowd) {
            long waited = caller.get(10, TimeUnit.SECONDS);
            if (waited < 0) {
                continue;
            }
            queued++;
            assertTrue(waited >= poolTimeout, "left before its time: " + waited / 1_000_000 + " ms");
            assertTrue(waited < poolTimeout + 2 * PoolAdmission.sweepIntervalMillis(3000, poolTimeout) * 1_000_000 + SECOND,
                    "left " + waited / 1_000_000 + " ms after arriving, for a wait of 1,000 ms");
        }
        assertTrue(queued >= 500, "only " + queued + " waited: the sweep's interval was not stretched");
        assertEquals(0, admission.waiters());
    }

    @Test
    void aCallerThatGoesAwayWhileWaitingLeavesNoPlaceTaken() throws Exception {
        PoolAdmission admission = new PoolAdmission(vertx, 1, 100, 30 * SECOND);
        PoolAdmission.Release held = enter(admission, 30 * SECOND).get(5, TimeUnit.SECONDS);

        List<Cancellable> leaving = new ArrayList<>();
        for (int i = 0; i < 3; i++) { // callers whose request is cancelled (its deadline, a hang-up)
            leaving.add(admission.enter(deadlineIn(30 * SECOND), PoolAdmission.Lane.READ, null).subscribe().with(release -> { }));
        }
        assertEquals(3, admission.waiters());
        leaving.forEach(Cancellable::cancel);
        assertEquals(0, admission.waiters(), "cancelled callers still counted as waiting");

        held.done(true);
        // the freed place went to nobody who left: the next caller gets it at once
        PoolAdmission.Release next = enter(admission, 30 * SECOND).get(5, TimeUnit.SECONDS);
        next.done(true);
        enter(admission, 30 * SECOND).get(5, TimeUnit.SECONDS);
    }

    @Test
    void theExpectedWaitFollowsThePaceAtWhichPlacesAreFreed() throws Exception {
        int pool = 4;
        PoolAdmission admission = new PoolAdmission(vertx, pool, 100_000, 10 * SECOND);
        List<PoolAdmission.Release> holding = takeEveryPlace(admission, pool);
        // a crowd queues; each place is then held for long (as under a busy event loop) but freed often
        List<CompletableFuture<PoolAdmission.Release>> crowd = queue(admission, 400);
        Thread.sleep(300); // every place held for 300 ms or more: at that hold time 400 waiters would take 30 s
        freeOneByOne(holding, crowd, 0, 300); // then 300 places freed a millisecond apart, each taken by the next waiter
        // 104 still waiting: at ~1 ms a place, far within the 8 s (4/5 of the pool timeout) a newcomer may wait
        assertTrue(arrive(admission) < 0,
                "refused although places are freed every millisecond or so");
        // a wait the pace cannot serve in time is refused on arrival, with a Retry-After of a second or more
        for (int i = 0; i < 20_000; i++) {
            crowd.add(enter(admission, 30 * SECOND));
        }
        long retryAfter = arrive(admission);
        assertTrue(retryAfter >= 1000, "20,000 waiters at ~1 ms a place take far more than 8 s: " + retryAfter);
    }

    @Test
    void oneStallOfTheEventLoopsDoesNotMakeThePaceLookSlow() throws Exception {
        int pool = 4;
        PoolAdmission admission = new PoolAdmission(vertx, pool, 100_000, 10 * SECOND);
        List<PoolAdmission.Release> holding = takeEveryPlace(admission, pool);
        List<CompletableFuture<PoolAdmission.Release>> crowd = queue(admission, 1_500);
        // the pace: as fast as a freed place reaches its waiter (no sleep: on a loaded machine a 1 ms sleep
        // can take several, and 1,300 waiters at 6 ms a place would rightly be refused)
        freeOneByOne(holding, crowd, 0, 200, 0);
        Thread.sleep(500); // one stall, as when a crowd connects or hangs up at once
        freeOneByOne(holding, crowd, 200, 1, 0);
        // ~1,300 waiting at well under a millisecond a place: far within the 8 s a newcomer may wait.
        // Averaged over the last ~50 places unclamped, the one 500 ms gap adds 10 ms a place, 13 s: refused
        assertTrue(arrive(admission) < 0,
                "one stall of half a second refused a newcomer the pace would serve in time");
    }

    @Test
    void aCapRaisedByOneThatCallersFillWaitsForTheConnectionThatProvesIt() throws Exception {
        AtomicInteger open = new AtomicInteger(2);
        PoolAdmission admission = new PoolAdmission(vertx, 10, 100, 30 * SECOND, capped -> { }, open::get);
        assertTrue(admission.connectionRefused(2, "53300")); // the server took two connections and refused the third
        assertEquals(2, admission.limit());

        // for three backoffs callers hold two places and keep taking a third, so the step to three is filled,
        // but the pool's two connections serve them all (each attempt holds its connection only part of the
        // time): no refusal comes, and none proves the server would take a third connection either
        List<PoolAdmission.Release> two = takeEveryPlace(admission, 2);
        Thread.sleep(1_100); // the first backoff: the next caller takes the step to three
        enterOneAtATime(admission, 3_500);
        assertEquals(2, admission.limit(), "raised without a connection the server accepted");

        open.set(3); // the server accepted the pool's third
        long until = System.nanoTime() + 5 * SECOND;
        while (admission.limit() < 3 && System.nanoTime() < until) {
            enterOneAtATime(admission, 100);
        }
        assertEquals(3, admission.limit(), "the accepted connection raises the cap");
        two.forEach(release -> release.done(true));
    }

    @Test
    void theStepAfterABackoffGoesToAWaiterAtOnceNotOnlyTheFreedPlace() throws Exception {
        PoolAdmission admission = new PoolAdmission(vertx, 10, 100, 30 * SECOND, capped -> { }, () -> 2);
        assertTrue(admission.connectionRefused(2, "53300"));
        List<PoolAdmission.Release> two = takeEveryPlace(admission, 2);
        List<CompletableFuture<PoolAdmission.Release>> crowd = queue(admission, 5);
        Thread.sleep(1_100); // the first backoff: the cap may step to three

        // one place freed: its waiter and the step's. Handing over only the freed place kept a crowd at the
        // old limit, so the step was never filled (nothing tried the third connection) and counted as
        // accepted: a loaded CI machine saw the learned limit climb to 4 under a server cap of 2
        two.get(0).done(true);
        long until = System.nanoTime() + 2 * SECOND;
        while (crowd.stream().filter(CompletableFuture::isDone).count() < 2 && System.nanoTime() < until) {
            Thread.sleep(5);
        }
        assertEquals(2, crowd.stream().filter(CompletableFuture::isDone).count(),
                "the freed place and the new one both go to waiters");
        assertEquals(2, admission.limit(), "the step is still a probe");
        two.get(1).done(true);
        for (CompletableFuture<PoolAdmission.Release> waiter : crowd) {
            waiter.get(5, TimeUnit.SECONDS).done(true);
        }
    }

    @Test
    void aQuietServiceClimbsBackToThePoolSizeStepByStep() throws Exception {
        PoolAdmission admission = new PoolAdmission(vertx, 10, 100, 30 * SECOND, capped -> { }, () -> 2);
        assertTrue(admission.connectionRefused(2, "53300"));
        // one attempt at a time never fills a step: nothing to prove, so the cap climbs a place a backoff, as
        // after an operator lifts the server's limit (the gauge and the admin alert come back with it)
        enterOneAtATime(admission, 3_500);
        assertTrue(admission.limit() >= 3, "stuck at " + admission.limit() + " though no caller needed more");
    }

    /** Attempts that each take a place and give it back, for {@code millis}. */
    private static void enterOneAtATime(PoolAdmission admission, long millis) throws Exception {
        long until = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < until) {
            enter(admission, 30 * SECOND).get(5, TimeUnit.SECONDS).done(true);
            Thread.sleep(10);
        }
    }

    /** A read arriving at the door: PASS or HELD (not refused), or the Retry-After it is refused with. */
    private static long arrive(PoolAdmission admission) {
        return admission.arrive(30 * SECOND, PoolAdmission.Lane.READ, new Arrival());
    }

    /** A request at the door that notes what became of it. */
    private static final class Arrival implements DoorRequest {
        final CompletableFuture<Void> wentIn = new CompletableFuture<>();
        final CompletableFuture<Long> refused = new CompletableFuture<>();
        Runnable hangUp;

        @Override
        public void goIn() {
            wentIn.complete(null);
        }

        @Override
        public void refuse(long retryAfterMillis, long waitedMillis) {
            refused.complete(retryAfterMillis);
        }

        @Override
        public void onHangUp(Runnable leave) {
            hangUp = leave;
        }
    }

    @Test
    void beyondTwoRoundsOfThePoolArrivalsWaitAtTheDoorAndGoInInTurnAsPlacesFree() throws Exception {
        int pool = 4; // reads alone: their share is the whole pool, two rounds are 8 waiters inside
        PoolAdmission admission = new PoolAdmission(vertx, pool, 100, 30 * SECOND);
        List<PoolAdmission.Release> holding = takeEveryPlace(admission, pool);
        List<CompletableFuture<PoolAdmission.Release>> inside = queue(admission, 2 * pool);
        List<Arrival> atTheDoor = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Arrival arrival = new Arrival();
            assertEquals(PoolAdmission.HELD, admission.arrive(30 * SECOND, PoolAdmission.Lane.READ, arrival));
            atTheDoor.add(arrival);
        }
        assertEquals(2 * pool + 3, admission.waiters(), "the door's waiters count as waiting");

        holding.get(0).done(true); // the first waiter inside takes the place; the first at the door goes in
        atTheDoor.get(0).wentIn.get(5, TimeUnit.SECONDS);
        assertTrue(inside.get(0).isDone());
        assertTrue(!atTheDoor.get(1).wentIn.isDone() && !atTheDoor.get(2).wentIn.isDone(), "let in out of turn");
        // a newcomer does not pass those already at the door, although the queue inside is short for a moment
        Arrival late = new Arrival();
        assertEquals(PoolAdmission.HELD, admission.arrive(30 * SECOND, PoolAdmission.Lane.READ, late));

        holding.get(1).done(true);
        atTheDoor.get(1).wentIn.get(5, TimeUnit.SECONDS);
        assertTrue(!atTheDoor.get(2).wentIn.isDone() && !late.wentIn.isDone(), "let in out of turn");
    }

    @Test
    void aRequestAtTheDoorIsRefusedWhenItsWaitIsOverAndOneThatHangsUpNoLongerCounts() throws Exception {
        long requestTimeout = SECOND / 2; // the door's wait: the request's deadline (the pool timeout is longer)
        int pool = 2;
        PoolAdmission admission = new PoolAdmission(vertx, pool, 100, 30 * SECOND);
        List<PoolAdmission.Release> holding = takeEveryPlace(admission, pool);
        queue(admission, 2 * pool);
        Arrival goneAway = new Arrival();
        Arrival patient = new Arrival();
        long start = System.nanoTime();
        assertEquals(PoolAdmission.HELD, admission.arrive(requestTimeout, PoolAdmission.Lane.READ, goneAway));
        assertEquals(PoolAdmission.HELD, admission.arrive(requestTimeout, PoolAdmission.Lane.READ, patient));
        assertEquals(2 * pool + 2, admission.waiters());

        goneAway.hangUp.run();
        assertEquals(2 * pool + 1, admission.waiters(), "a caller gone still counts as waiting at the door");

        long retryAfter = patient.refused.get(5, TimeUnit.SECONDS);
        long waited = System.nanoTime() - start;
        assertTrue(waited >= requestTimeout, "refused before its wait was over: " + waited / 1_000_000 + " ms");
        assertTrue(retryAfter >= 1000, "Retry-After " + retryAfter + " ms");
        assertTrue(!goneAway.refused.isDone() && !goneAway.wentIn.isDone(), "a caller gone was answered");
        assertTrue(!patient.wentIn.isDone());
        holding.forEach(release -> release.done(true));
    }

    @Test
    void aRequestWithAShorterWaitThanTheOneBeforeItAtTheDoorIsStillRefusedOnTime() throws Exception {
        // the sweep stops at the first request still in time while deadlines ascend; one that does not is seen
        int pool = 2;
        PoolAdmission admission = new PoolAdmission(vertx, pool, 100, 30 * SECOND);
        List<PoolAdmission.Release> holding = takeEveryPlace(admission, pool);
        queue(admission, 2 * pool);
        Arrival patient = new Arrival();
        Arrival hurried = new Arrival();
        long start = System.nanoTime();
        assertEquals(PoolAdmission.HELD, admission.arrive(20 * SECOND, PoolAdmission.Lane.READ, patient));
        assertEquals(PoolAdmission.HELD, admission.arrive(SECOND / 2, PoolAdmission.Lane.READ, hurried));

        hurried.refused.get(5, TimeUnit.SECONDS);
        long waited = System.nanoTime() - start;
        assertTrue(waited >= SECOND / 2 && waited < 3 * SECOND, "refused after " + waited / 1_000_000 + " ms");
        assertTrue(!patient.refused.isDone() && !patient.wentIn.isDone(), "the patient one was answered");
        assertEquals(2 * pool + 1, admission.waiters());

        holding.get(0).done(true);
        holding.get(1).done(true); // two inside go on; the patient one comes through the door
        patient.wentIn.get(5, TimeUnit.SECONDS);
    }

    @Test
    void aRequestAtTheDoorWithLessTimeLeftThanTheQueueInsideTakesIsRefusedThereNotLetIn() throws Exception {
        // let in, it would read its body, run its route and its unit of work only to be refused inside
        long poolTimeout = 2 * SECOND;
        PoolAdmission admission = new PoolAdmission(vertx, 1, 100, poolTimeout);
        PoolAdmission.Release held = takeEveryPlace(admission, 1).get(0);
        List<CompletableFuture<PoolAdmission.Release>> inside = queue(admission, 2); // two rounds of a pool of one
        Arrival late = new Arrival();
        long start = System.nanoTime();
        assertEquals(PoolAdmission.HELD, admission.arrive(30 * SECOND, PoolAdmission.Lane.READ, late));

        Thread.sleep(1500);
        // the place comes back after 1.5 s: the first inside takes it, and serving now takes some 0.3 s a place,
        // so the one left inside ahead of the door's request takes longer than the 0.5 s its wait has left
        held.done(true);
        inside.get(0).get(5, TimeUnit.SECONDS);
        late.refused.get(5, TimeUnit.SECONDS);
        long refusedAfter = System.nanoTime() - start;
        assertTrue(refusedAfter < poolTimeout, "refused only when its wait ran out: " + refusedAfter / 1_000_000 + " ms");
        assertTrue(!late.wentIn.isDone(), "let in although it could not be served in time");
        assertEquals(1, admission.waiters(), "the second inside still waits");
        inside.get(0).get().done(true);
        inside.get(1).get(5, TimeUnit.SECONDS).done(true);
    }

    /** A parked caller whose resume notes its number, in the order callers are resumed. */
    private static Runnable resumes(List<Integer> resumed, int caller) {
        return () -> {
            synchronized (resumed) {
                resumed.add(caller);
            }
        };
    }

    private static List<Integer> snapshot(List<Integer> resumed) {
        synchronized (resumed) {
            return List.copyOf(resumed);
        }
    }

    /** The pool full, two rounds waiting inside, and {@code count} reads held at the door. */
    private static List<Arrival> crowdAtTheDoor(PoolAdmission admission, int pool, int count) throws Exception {
        takeEveryPlace(admission, pool);
        queue(admission, 2 * pool);
        return holdAtTheDoor(admission, count);
    }

    /** {@code count} reads arriving while the queue inside is two rounds long: all held at the door. */
    private static List<Arrival> holdAtTheDoor(PoolAdmission admission, int count) {
        List<Arrival> atTheDoor = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Arrival arrival = new Arrival();
            assertEquals(PoolAdmission.HELD, admission.arrive(30 * SECOND, PoolAdmission.Lane.READ, arrival));
            atTheDoor.add(arrival);
        }
        return atTheDoor;
    }

    @Test
    void onceTheDoorIsFullAnsweredCallersAreParkedAndResumedInTurnEvenWhenTheDoorEmptiesWithoutAPlaceFreed() throws Exception {
        int pool = 4;
        int room = 64; // the door's room before callers are parked: a tenth of the waiters' cap (640)
        PoolAdmission admission = new PoolAdmission(vertx, pool, 640, 30 * SECOND);
        List<Integer> resumed = new ArrayList<>();
        List<Arrival> atTheDoor = crowdAtTheDoor(admission, pool, room - 1);
        assertFalse(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, -1)), "parked while the door had room");

        Arrival last = new Arrival();
        assertEquals(PoolAdmission.HELD, admission.arrive(30 * SECOND, PoolAdmission.Lane.READ, last));
        atTheDoor.add(last);
        for (int caller = 0; caller < 3; caller++) {
            assertTrue(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, caller)), "not parked: " + caller);
        }
        assertFalse(admission.park(30 * SECOND, PoolAdmission.Lane.WRITE, resumes(resumed, -2)),
                "parked on the write lane, whose door is empty");
        assertEquals(3, admission.parked());
        assertEquals(2 * pool + room, admission.waiters(), "parked callers counted as requests waiting");

        Thread.sleep(100); // a sweep or more
        assertTrue(snapshot(resumed).isEmpty(), "resumed while the door was full: " + snapshot(resumed));
        long hungUp = System.nanoTime();
        atTheDoor.forEach(arrival -> arrival.hangUp.run()); // every caller at the door hangs up: room, no place freed
        Await.until(() -> snapshot(resumed).size() == 3, "the parked callers resumed by the sweep");
        long after = System.nanoTime() - hungUp;
        assertEquals(List.of(0, 1, 2), snapshot(resumed), "resumed out of turn");
        // by the next sweep (20 ms), not by the second a caller stays parked at most
        assertTrue(after < PoolAdmission.PARKED_AT_MOST_NANOS / 2, "resumed " + after / 1_000_000 + " ms after the door emptied");
        assertEquals(0, admission.parked());
        assertFalse(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, -3)), "parked at an empty door");
    }

    @Test
    void aPlaceFreedResumesTheFirstParkedCaller() throws Exception {
        int pool = 4;
        PoolAdmission admission = new PoolAdmission(vertx, pool, 640, 30 * SECOND);
        List<PoolAdmission.Release> holding = takeEveryPlace(admission, pool);
        List<CompletableFuture<PoolAdmission.Release>> inside = queue(admission, 2 * pool);
        List<Arrival> atTheDoor = holdAtTheDoor(admission, 64);
        List<Integer> resumed = new ArrayList<>();
        for (int caller = 0; caller < 3; caller++) {
            assertTrue(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, caller)), "not parked: " + caller);
        }

        holding.get(0).done(true); // the first inside takes it, the door's first goes in, the first parked is resumed
        List<Integer> right = snapshot(resumed); // by the release itself, before it returned (a sweep may add one later)
        assertEquals(0, right.isEmpty() ? -1 : right.get(0), "the first parked caller not resumed by the place freed");
        atTheDoor.get(0).wentIn.get(5, TimeUnit.SECONDS);
        assertTrue(inside.get(0).isDone());
        holding.get(1).done(true);
        holding.get(2).done(true);
        Await.until(() -> snapshot(resumed).size() == 3, "the parked callers resumed");
        assertEquals(List.of(0, 1, 2), snapshot(resumed), "resumed out of turn");
    }

    @Test
    void stoppingResumesEveryParkedCallerAndParksNoMore() throws Exception {
        int pool = 4;
        PoolAdmission admission = new PoolAdmission(vertx, pool, 640, 30 * SECOND);
        crowdAtTheDoor(admission, pool, 64);
        List<Integer> resumed = new ArrayList<>();
        assertTrue(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, 0)));
        assertTrue(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, 1)));
        admission.stopParking();
        assertEquals(List.of(0, 1), snapshot(resumed));
        assertFalse(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, 2)), "parked while stopping");
        assertEquals(0, admission.parked());
    }

    @Test
    void parkedCallersAreAllResumedOnceTheCrowdCouldNoLongerBeServedWellInTime() throws Exception {
        // nothing is freed: the database stalls. Parked, a request's wait is not counted (it is not read), so
        // callers are parked only while the crowd's expected wait is under a quarter of what one may wait
        long poolTimeout = 1_600_000_000L; // parked while the crowd's expected wait is under 0.4 s
        int pool = 4;
        PoolAdmission admission = new PoolAdmission(vertx, pool, 640, poolTimeout);
        List<Arrival> atTheDoor = crowdAtTheDoor(admission, pool, 64);
        List<Integer> resumed = new ArrayList<>();
        long start = System.nanoTime();
        for (int caller = 0; caller < 3; caller++) {
            assertTrue(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, caller)), "not parked: " + caller);
        }
        Await.until(() -> snapshot(resumed).size() == 3, "the parked callers resumed");
        long after = System.nanoTime() - start;
        assertEquals(List.of(0, 1, 2), snapshot(resumed));
        // resumed once the stall passed a quarter of the pool's timeout (0.4 s since the last place was freed, at
        // the start), well before the second a caller stays parked at most and the door's requests run out (1.6 s)
        assertTrue(after < 850_000_000L, "resumed after " + after / 1_000_000 + " ms");
        assertTrue(atTheDoor.stream().noneMatch(arrival -> arrival.refused.isDone()), "the door's requests were refused first");
        assertFalse(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, 3)), "parked during a stall");
        assertEquals(0, admission.parked());
    }

    @Test
    void aCallerIsParkedForASecondAtMostWhileTheDoorStaysFull() throws Exception {
        // its next request may be of the other lane (a write, then a read): a lane stuck behind a held row
        // keeps a parked caller at most this long
        int pool = 4;
        PoolAdmission admission = new PoolAdmission(vertx, pool, 640, 30 * SECOND);
        List<Arrival> atTheDoor = crowdAtTheDoor(admission, pool, 64);
        List<Integer> resumed = new ArrayList<>();
        long start = System.nanoTime();
        assertTrue(admission.park(30 * SECOND, PoolAdmission.Lane.READ, resumes(resumed, 0)));
        Await.until(() -> snapshot(resumed).size() == 1, "the parked caller resumed");
        long after = System.nanoTime() - start;
        assertTrue(after >= PoolAdmission.PARKED_AT_MOST_NANOS && after < 2 * PoolAdmission.PARKED_AT_MOST_NANOS,
                "resumed after " + after / 1_000_000 + " ms");
        assertTrue(atTheDoor.stream().noneMatch(arrival -> arrival.wentIn.isDone() || arrival.refused.isDone()),
                "the door's requests moved: the caller may have been resumed for room, not for its time");
        // its time parked is counted for operators (http_server_requests starts once a request is read)
        double parked = admission.parkedSeconds();
        assertTrue(parked >= PoolAdmission.PARKED_AT_MOST_NANOS / 1e9 && parked <= after / 1e9, parked + " s counted parked");
    }
}
