package dev.bastion.database;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;

import io.vertx.core.Context;
import io.vertx.core.Vertx;

/**
 * Where requests wait, per lane and first come first served, before their route runs, while the
 * admission's own queue is long (see {@link PoolAdmission#arrive}). A request held here is only its
 * HTTP request: no body read, no resource, no unit of work, no fault-tolerance guard. Under a crowd
 * of 5,000 callers a request waiting inside the admission kept some 7.6 KB alive, and the collector
 * copied all of it at every young collection (40 % of the service's CPU); at the door it is a few
 * hundred bytes. Not thread-safe: guarded by the admission's lock.
 */
final class AdmissionDoor {

    /** A request waiting at the door. */
    static final class Held {
        final DoorRequest request;
        final PoolAdmission.Lane lane;
        final Context context = Vertx.currentContext();
        final long arrivedAt;
        final long deadlineNanos;
        private boolean waiting = true; // guarded by the admission's lock

        Held(DoorRequest request, PoolAdmission.Lane lane, long arrivedAt, long mayWaitNanos) {
            this.request = request;
            this.lane = lane;
            this.arrivedAt = arrivedAt;
            this.deadlineNanos = arrivedAt + mayWaitNanos;
        }

        /** In, on its own context, its arrival noted there: its unit of work's deadline counts from it. */
        void goIn() {
            onItsContext(() -> {
                RequestStart.note(arrivedAt);
                request.goIn();
            });
        }

        void refuse(long retryAfterMillis) {
            onItsContext(() -> request.refuse(retryAfterMillis));
        }

        private void onItsContext(Runnable action) {
            if (context == null) {
                action.run();
            } else {
                context.runOnContext(ignored -> action.run());
            }
        }
    }

    @SuppressWarnings("unchecked")
    private final ArrayDeque<Held>[] queues = new ArrayDeque[] {new ArrayDeque<Held>(), new ArrayDeque<Held>()};
    private final int[] waiting = new int[2];

    /** Waiting in the lane of this ordinal. */
    int waiting(int lane) {
        return waiting[lane];
    }

    int waiting() {
        return waiting[0] + waiting[1];
    }

    Held hold(DoorRequest request, PoolAdmission.Lane lane, long now, long mayWaitNanos) {
        Held held = new Held(request, lane, now, mayWaitNanos);
        queues[lane.ordinal()].add(held);
        waiting[lane.ordinal()]++;
        return held;
    }

    /** The lane's first request still waiting, now no longer waiting; null if none. */
    Held next(PoolAdmission.Lane lane) {
        Held held;
        while ((held = queues[lane.ordinal()].poll()) != null) {
            if (held.waiting) {
                out(held);
                return held;
            }
        }
        return null;
    }

    /** Its caller hung up: it no longer counts (its entry is dropped by the next poll or sweep). */
    void hungUp(Held held) {
        if (held.waiting) {
            out(held);
        }
    }

    /** Takes out the requests whose wait is over (into {@code expired}) and the entries of callers gone. */
    void expire(long now, List<Held> expired) {
        for (ArrayDeque<Held> queue : queues) {
            for (Iterator<Held> it = queue.iterator(); it.hasNext();) {
                Held held = it.next();
                if (!held.waiting) {
                    it.remove();
                } else if (now - held.deadlineNanos >= 0) {
                    it.remove();
                    out(held);
                    expired.add(held);
                }
            }
        }
    }

    private void out(Held held) {
        held.waiting = false;
        waiting[held.lane.ordinal()]--;
    }
}
