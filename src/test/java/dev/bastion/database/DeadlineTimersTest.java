package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The attempts' deadlines on real Vert.x event loops: never early, never lost, never after a cancel. */
class DeadlineTimersTest {

    private static Vertx vertx;
    private static DeadlineTimers timers;

    @BeforeAll
    static void start() {
        vertx = Vertx.vertx();
        timers = new DeadlineTimers(vertx);
    }

    @AfterAll
    static void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void aDeadlineFiresOnItsOwnContextNotBeforeItIsDue() throws Exception {
        Context context = vertx.getOrCreateContext();
        AtomicReference<Context> firedOn = new AtomicReference<>();
        CompletableFuture<Long> fired = new CompletableFuture<>();
        long[] setAt = new long[1];
        context.runOnContext(ignored -> {
            setAt[0] = System.nanoTime();
            timers.schedule(50, () -> {
                firedOn.set(Vertx.currentContext());
                fired.complete(System.nanoTime());
            });
        });
        long after = TimeUnit.NANOSECONDS.toMillis(fired.get(5, TimeUnit.SECONDS) - setAt[0]);
        assertTrue(after >= 50, "fired after " + after + " ms");
        assertSame(context, firedOn.get(), "the action runs on the context that set the deadline");
    }

    @Test
    void aCancelledDeadlineNeverFiresWhereverItIsCancelled() throws Exception {
        Context context = vertx.getOrCreateContext();
        AtomicInteger fired = new AtomicInteger();
        CompletableFuture<DeadlineTimers.Timer> elsewhere = new CompletableFuture<>();
        CountDownLatch set = new CountDownLatch(1);
        context.runOnContext(ignored -> {
            timers.schedule(30, fired::incrementAndGet).cancel(); // on its own loop
            elsewhere.complete(timers.schedule(30, fired::incrementAndGet));
            set.countDown();
        });
        assertTrue(set.await(5, TimeUnit.SECONDS));
        elsewhere.get().cancel(); // from this test's thread
        Thread.sleep(300);
        assertEquals(0, fired.get());
    }

    @Test
    void manyDeadlinesOnSeveralLoopsFireExactlyTheUncancelledOnesNoneEarly() throws Exception {
        int count = 20_000;
        SplittableRandom random = new SplittableRandom(7);
        int[] fires = new int[count];       // written on the timer's own loop
        boolean[] cancelled = new boolean[count];
        boolean[] firedBeforeCancel = new boolean[count];
        AtomicInteger early = new AtomicInteger();
        CountDownLatch scheduled = new CountDownLatch(count);
        CountDownLatch settledTimers = new CountDownLatch(count); // each fired, cancelled at once, or its late cancel run
        List<Context> loops = List.of(vertx.getOrCreateContext(), vertx.getOrCreateContext(), vertx.getOrCreateContext());
        for (int i = 0; i < count; i++) {
            int n = i;
            long delay = 1 + random.nextInt(300);
            int cancel = random.nextInt(3); // 0: never, 1: at once, 2: later, from a task of its loop
            loops.get(i % loops.size()).runOnContext(ignored -> {
                long due = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay);
                DeadlineTimers.Timer timer = timers.schedule(delay, () -> {
                    fires[n]++;
                    if (System.nanoTime() < due) {
                        early.incrementAndGet();
                    }
                    if (cancel == 0) {
                        settledTimers.countDown();
                    }
                });
                if (cancel == 1) {
                    cancelled[n] = true;
                    timer.cancel();
                    settledTimers.countDown();
                } else if (cancel == 2) {
                    vertx.setTimer(Math.max(1, delay / 2), t -> { // on a loaded loop it may come after the deadline
                        firedBeforeCancel[n] = fires[n] > 0;
                        cancelled[n] = true;
                        timer.cancel();
                        settledTimers.countDown();
                    });
                }
                scheduled.countDown();
            });
        }
        assertTrue(scheduled.await(10, TimeUnit.SECONDS));
        // waited for, not slept on: a loaded CI machine runs timers and cancels late (a missing fire then fails below)
        assertTrue(settledTimers.await(60, TimeUnit.SECONDS), settledTimers.getCount() + " timers neither fired nor cancelled");
        Thread.sleep(500); // a cancelled timer that fired anyway would do so by its deadline: 300 ms at most
        CountDownLatch settled = new CountDownLatch(loops.size());
        loops.forEach(loop -> loop.runOnContext(ignored -> settled.countDown())); // the loops' writes are visible after
        assertTrue(settled.await(10, TimeUnit.SECONDS));
        int cancelledInTime = 0;
        for (int i = 0; i < count; i++) {
            int expected = cancelled[i] && !firedBeforeCancel[i] ? 0 : 1;
            assertEquals(expected, fires[i], "timer " + i + (cancelled[i] ? " (cancelled)" : ""));
            cancelledInTime += expected == 0 ? 1 : 0;
        }
        // a third are cancelled at once; of the third cancelled later, a loaded machine may run many cancels after
        // their deadline (9,268 of 20,000 were in time on a shared CI machine): a quarter still shows enough
        assertTrue(cancelledInTime > count / 4, cancelledInTime + " cancelled in time: too few to show anything");
        assertEquals(0, early.get(), "no deadline fired early");
    }

    @Test
    void aDeadlineBeyondOneTurnOfTheWheelWaitsForIt() throws Exception {
        Context context = vertx.getOrCreateContext();
        CompletableFuture<Long> fired = new CompletableFuture<>();
        long[] setAt = new long[1];
        long delay = 5_300; // the wheel turns in 5.12 s: this deadline's slot comes round once before it is due
        context.runOnContext(ignored -> {
            setAt[0] = System.nanoTime();
            timers.schedule(delay, () -> fired.complete(System.nanoTime()));
        });
        long after = TimeUnit.NANOSECONDS.toMillis(fired.get(15, TimeUnit.SECONDS) - setAt[0]);
        assertTrue(after >= delay && after < delay + 2_000, "fired after " + after + " ms");
    }

    @Test
    void offAnEventLoopItIsAPlainVertxTimer() throws Exception {
        CountDownLatch fired = new CountDownLatch(1);
        timers.schedule(20, fired::countDown);
        assertTrue(fired.await(5, TimeUnit.SECONDS));
        AtomicInteger cancelledFired = new AtomicInteger();
        timers.schedule(20, cancelledFired::incrementAndGet).cancel();
        Thread.sleep(200);
        assertFalse(cancelledFired.get() > 0);
    }
}
