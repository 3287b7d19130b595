package dev.bastion.database;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import io.vertx.core.Context;
import io.vertx.core.Vertx;

/**
 * The blast radius of a held row: at most DB_MAX_CONNECTIONS_PER_ROW attempts that write the same
 * row hold a pooled connection at once. The others wait here, in memory and without a connection,
 * in arrival order, until one of them finishes or their deadline passes (then 503 lock-not-available).
 * <p>
 * Why here and not in PostgreSQL: a row lock already serialises every writer of a row, so more
 * than one or two of them holding connections buys no throughput; while a session outside the
 * service holds the row, each of them would hold a pooled connection until its deadline, and a
 * few requests a second for that one row would take the whole pool from every other customer. A
 * short {@code lock_timeout} with retries would not bound it (every retry takes a connection again);
 * this bound does, at the cost of a map lookup per write.
 * <p>
 * Keys are taken in ascending order, so two multi-row units can never wait for each other here.
 */
final class RowConcurrency {

    private final int perRow;
    private final int maxWaiting;
    private final ConcurrentHashMap<String, Lane> lanes = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger queued = new java.util.concurrent.atomic.AtomicInteger();

    /** Attempts of one row: how many hold a connection, and who waits for a turn. Guarded by the map's compute. */
    private static final class Lane {
        int active;
        final ArrayDeque<Waiter> waiting = new ArrayDeque<>();
    }

    /**
     * One attempt waiting for a turn on one row. Its caller can go away (a hang-up cancels a queued
     * attempt) while it waits, or while the turn is on its way to it: a turn that reaches nobody is
     * handed on at once, never left taken (a hot row's turns leaked that way were held for good, and
     * every later writer of the row waited until its deadline). Delivery and cancellation both run
     * on the request's event loop (its context), one after the other, so the state decides each turn once.
     */
    private final class Waiter {
        static final int WAITING = 0;
        static final int GRANTED = 1;   // the turn is its, on its way to its event loop
        static final int DELIVERED = 2;
        static final int GONE = 3;      // its caller went away

        final String key;
        final CommitGate gate;
        final UniEmitter<? super Void> emitter;
        final Context context;
        final AtomicInteger state = new AtomicInteger(WAITING);

        Waiter(String key, CommitGate gate, UniEmitter<? super Void> emitter, Context context) {
            this.key = key;
            this.gate = gate;
            this.emitter = emitter;
            this.context = context;
        }

        /** Whether it can take a turn now: its caller still waits for it. */
        boolean grant() {
            return !gate.abandoned() && state.compareAndSet(WAITING, GRANTED);
        }

        boolean gone() {
            return state.get() == GONE || gate.abandoned();
        }

        void admit() {
            gate.waitingForRow(false);
            OnItsContext.run(context, () -> {
                if (state.compareAndSet(GRANTED, DELIVERED)) {
                    emitter.complete(null);
                } else { // its caller went away while the turn was on its way
                    leave(key);
                }
            });
        }

        /** The caller went away (its subscription was cancelled): a turn granted meanwhile goes on. */
        void cancelled() {
            state.compareAndSet(WAITING, GONE); // still queued: the next leave skips it
            state.compareAndSet(GRANTED, GONE); // on its way: its delivery hands the turn on
        }

        void drop() {
            OnItsContext.run(context, () -> emitter.fail(new CommitGate.AbandonedAttemptException()));
        }
    }

    RowConcurrency(int perRow, int maxWaiting) {
        this.perRow = perRow;
        this.maxWaiting = maxWaiting;
    }

    /**
     * Takes a turn on every row in {@code keys} (sorted, no duplicates), waiting as long as it takes;
     * the attempt's deadline (its gate) ends the wait. Emits the release to call once the attempt ended.
     */
    Uni<Runnable> enter(List<String> keys, CommitGate gate) {
        return enter(keys, 0, gate, new ArrayList<>(keys.size()));
    }

    private Uni<Runnable> enter(List<String> keys, int index, CommitGate gate, List<String> held) {
        if (index == keys.size()) {
            Runnable leave = () -> held.forEach(this::leave);
            return Uni.createFrom().item(leave);
        }
        String key = keys.get(index);
        // a failure or a cancelled wait (a caller that hung up) gives back the rows taken so far
        return enterOne(key, gate)
                .onFailure().invoke(() -> held.forEach(this::leave))
                .onCancellation().invoke(() -> held.forEach(this::leave))
                .chain(() -> {
                    held.add(key);
                    return enter(keys, index + 1, gate, held);
                });
    }

    private Uni<Void> enterOne(String key, CommitGate gate) {
        return Uni.createFrom().emitter(emitter -> {
            Waiter waiter = new Waiter(key, gate, emitter, Vertx.currentContext());
            emitter.onTermination(waiter::cancelled); // after its item or failure this changes nothing
            int[] outcome = new int[1]; // 0 admitted, 1 queued, 2 refused
            List<Waiter> dropped = new ArrayList<>(0);
            lanes.compute(key, (k, lane) -> {
                Lane l = lane == null ? new Lane() : lane;
                if (l.active < perRow && l.waiting.isEmpty()) {
                    l.active++;
                    outcome[0] = 0;
                } else {
                    if (l.waiting.size() >= maxWaiting) {
                        // callers that stopped waiting hold no place; each still hears it (its other rows go back)
                        l.waiting.removeIf(w -> w.gone() && dropped.add(w));
                        queued.addAndGet(-dropped.size());
                    }
                    if (l.waiting.size() >= maxWaiting) {
                        outcome[0] = 2;
                    } else {
                        gate.waitingForRow(true);
                        l.waiting.add(waiter);
                        queued.incrementAndGet();
                        outcome[0] = 1;
                    }
                }
                return l;
            });
            dropped.forEach(Waiter::drop);
            if (outcome[0] == 0) {
                waiter.state.set(Waiter.DELIVERED);
                emitter.complete(null);
            } else if (outcome[0] == 2) {
                // come back in one to two seconds: how long the row stays held is not known here
                emitter.fail(new RowBusyException(1000 + ThreadLocalRandom.current().nextLong(1001), gate.remainingMillis()));
            }
        });
    }

    /** Attempts queued for a turn on a row (callers that went away count until the queue passes them). */
    int waiting() {
        return queued.get();
    }

    /** Ends one turn: hands it to the next waiter whose caller still waits, or frees it. */
    private void leave(String key) {
        List<Waiter> dropped = new ArrayList<>(0);
        Waiter[] next = new Waiter[1];
        lanes.computeIfPresent(key, (k, lane) -> {
            Waiter w;
            while ((w = lane.waiting.poll()) != null && !w.grant()) {
                queued.decrementAndGet();
                dropped.add(w); // its deadline passed, or its caller went away
            }
            if (w != null) {
                queued.decrementAndGet();
                next[0] = w; // the turn passes on: active stays the same
            } else {
                lane.active--;
            }
            return lane.active == 0 && lane.waiting.isEmpty() ? null : lane;
        });
        dropped.forEach(Waiter::drop);
        if (next[0] != null) {
            next[0].admit();
        }
    }

    /** Too many attempts already wait for this row: refused at once, without a connection. */
    static final class RowBusyException extends RefusedAttemptException {
        RowBusyException(long retryAfterMillis, long requestLeftMillis) {
            super(FailureKind.LOCK_NOT_AVAILABLE, retryAfterMillis, true, 0, requestLeftMillis);
        }
    }
}
