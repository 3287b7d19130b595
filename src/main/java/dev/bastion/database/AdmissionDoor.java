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
 *
 * <p>Every request of a lane may wait as long as the others (DB_POOL_TIMEOUT or the request deadline,
 * both settings), so deadlines ascend in arrival order and the sweep stops at the first request still
 * in time: a sweep costs what it refuses, not the length of the queue (with 5,000 at the door a full
 * scan, and its removals from the middle of an array, was 2 % of the service's CPU at 1,000 callers).
 * Should a request ever arrive with an earlier deadline than one before it, the door falls back to
 * scanning the whole lane.
 *
 * <p>Outside the door, callers are parked ({@link PoolAdmission#park}): once a lane's door is full, a
 * caller answered in that lane has its connection's next request left unread, in the kernel's socket
 * buffer, until the door has room. A parked caller costs the service nothing that the collector copies
 * (its connection's objects are old and stay), where a request at the door keeps some 3.6 KB of Netty's
 * and Vert.x's per-request objects alive that every young collection copies: with 5,000 callers that
 * copying was a fifth of the service's CPU.
 */
final class AdmissionDoor {

    private static final long ORDER_SLACK_NANOS = 1_000_000;

    /** A request waiting at the door. */
    static final class Held {
        DoorRequest request; // dropped when its caller hangs up: the HTTP request is then not kept alive
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
            OnItsContext.run(context, () -> {
                RequestStart.note(arrivedAt);
                request.goIn();
            });
        }

        void refuse(long retryAfterMillis) {
            long waitedMillis = (System.nanoTime() - arrivedAt) / 1_000_000;
            OnItsContext.run(context, () -> request.refuse(retryAfterMillis, waitedMillis));
        }
    }

    @SuppressWarnings("unchecked")
    private final ArrayDeque<Held>[] queues = new ArrayDeque[] {new ArrayDeque<Held>(), new ArrayDeque<Held>()};
    private final int[] waiting = new int[2];
    private final boolean[] unordered = new boolean[2]; // a deadline arrived earlier than its predecessor's
    @SuppressWarnings("unchecked")
    private final ArrayDeque<Parked>[] parked = new ArrayDeque[] {new ArrayDeque<Parked>(), new ArrayDeque<Parked>()};
    private long parkedNanos;

    /** A caller parked outside: {@code resume} lets its next request be read. */
    private record Parked(Runnable resume, long parkedAt) {
    }

    /** Callers parked outside the lane of this ordinal: their next request is not read yet. */
    int parked(int lane) {
        return parked[lane].size();
    }

    int parked() {
        return parked[0].size() + parked[1].size();
    }

    /** Parks a caller, last in line; {@code resume} lets its next request be read. */
    void park(int lane, Runnable resume, long now) {
        parked[lane].add(new Parked(resume, now));
    }

    /** The lane's first parked caller's resume, out of line, its time parked counted; null if none is parked. */
    Runnable unpark(int lane, long now) {
        Parked first = parked[lane].poll();
        return first == null ? null : resumed(first, now);
    }

    /** As {@link #unpark}, if the first was parked at {@code before} or earlier; else null. */
    Runnable unparkIfParkedBy(int lane, long before, long now) {
        Parked first = parked[lane].peek();
        return first == null || first.parkedAt() - before > 0 ? null : resumed(parked[lane].poll(), now);
    }

    /** Its resume, its time parked counted. */
    private Runnable resumed(Parked caller, long now) {
        parkedNanos += Math.max(0, now - caller.parkedAt());
        return caller.resume();
    }

    /**
     * The time callers have spent parked, summed, counted as each is resumed: under a crowd larger than the
     * door, a wait that the service's request timings leave out (they start when a request is read). An upper
     * bound of that wait: exact for callers that send their next request on the answer (a crowd), while a
     * connection that idles between requests counts its idle time parked too.
     */
    long parkedNanos() {
        return parkedNanos;
    }

    /** Waiting in the lane of this ordinal. */
    int waiting(int lane) {
        return waiting[lane];
    }

    int waiting() {
        return waiting[0] + waiting[1];
    }

    Held hold(DoorRequest request, PoolAdmission.Lane lane, long now, long mayWaitNanos) {
        Held held = new Held(request, lane, now, mayWaitNanos);
        Held last = queues[lane.ordinal()].peekLast();
        if (last != null && !inOrder(last, held)) {
            unordered[lane.ordinal()] = true;
        }
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
            held.request = null;
        }
    }

    /** Takes out the requests whose wait is over (into {@code expired}) and the entries of callers gone. */
    void expire(long now, List<Held> expired) {
        for (int lane = 0; lane < queues.length; lane++) {
            ArrayDeque<Held> queue = queues[lane];
            Held head;
            while (!unordered[lane] && (head = queue.peek()) != null) {
                if (head.waiting && now - head.deadlineNanos < 0) {
                    break; // in time, and so is everyone behind it
                }
                queue.poll();
                if (head.waiting) {
                    out(head);
                    expired.add(head);
                }
            }
            if (!unordered[lane]) {
                continue;
            }
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
            unordered[lane] = !ordered(queue);
        }
    }

    /**
     * Whether {@code next}'s deadline is not before {@code previous}'s, give or take {@value
     * #ORDER_SLACK_NANOS} ns: arrivals on two event loops read the clock before they take the lock, so
     * one may queue a few microseconds behind a later arrival; it is refused at most that much late.
     */
    private static boolean inOrder(Held previous, Held next) {
        return next.deadlineNanos - previous.deadlineNanos >= -ORDER_SLACK_NANOS;
    }

    private static boolean ordered(ArrayDeque<Held> queue) {
        Held previous = null;
        for (Held held : queue) {
            if (previous != null && !inOrder(previous, held)) {
                return false;
            }
            previous = held;
        }
        return true;
    }

    private void out(Held held) {
        held.waiting = false;
        waiting[held.lane.ordinal()]--;
    }
}
