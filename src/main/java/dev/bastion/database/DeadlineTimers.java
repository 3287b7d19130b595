package dev.bastion.database;

import java.util.concurrent.TimeUnit;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.impl.ContextInternal;

/**
 * The deadlines of running attempts: one timer per event loop, not one per attempt. Every attempt
 * has a deadline, and nearly every one ends before it, so the timer is set and cancelled on each
 * request; a Vert.x timer costs a shared map's put and remove and a priority queue's insert and
 * removal (O(log n) in the attempts in flight, so dearer under a crowd: ~3 % of a read's samples at 20
 * callers, ~9 % at 1,000, bench/profile). Here an attempt's deadline goes into a hashed wheel of
 * {@value #TICK_MILLIS} ms slots owned by its event loop: adding and cancelling are a link and an
 * unlink, and one Netty task per tick, while any deadline is pending, fires the due ones on their
 * attempt's own Vert.x context. A deadline fires at most one tick late, which a request deadline of
 * seconds does not notice.
 * <p>
 * Called off an event loop (a worker, a test's thread), or cancelled from another thread than the
 * one that set it, it stays correct: the former gets a plain Vert.x timer, the latter marks the entry
 * cancelled and its loop drops it at its slot's next sweep.
 */
final class DeadlineTimers {

    static final long TICK_MILLIS = 10;
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS);
    private static final int SLOTS = 512; // 5.12 s a turn; a later deadline waits in its slot a turn or more

    /** What {@link #schedule} returns: cancel it when the attempt ends first. */
    interface Timer {
        void cancel();
    }

    private final Vertx vertx;
    private final FastThreadLocal<Wheel> wheels = new FastThreadLocal<>();

    DeadlineTimers(Vertx vertx) {
        this.vertx = vertx;
    }

    /** Runs {@code onDeadline} on the caller's Vert.x context after {@code delayMillis}, unless cancelled first. */
    Timer schedule(long delayMillis, Runnable onDeadline) {
        Context context = Vertx.currentContext();
        if (!(context instanceof ContextInternal internal) || !internal.isEventLoopContext()
                || !internal.nettyEventLoop().inEventLoop()) {
            long id = vertx.setTimer(Math.max(1, delayMillis), fired -> onDeadline.run());
            return () -> vertx.cancelTimer(id);
        }
        Wheel wheel = wheels.get();
        if (wheel == null || wheel.loop != internal.nettyEventLoop()) {
            wheel = new Wheel(internal.nettyEventLoop());
            wheels.set(wheel);
        }
        return wheel.add(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis), onDeadline, internal);
    }

    /** One event loop's deadlines; touched only by that loop's thread (except {@link Entry#cancel}'s flag). */
    private static final class Wheel {
        final EventLoop loop;
        final Entry[] heads = new Entry[SLOTS];
        final long origin = System.nanoTime();
        long sweptTick; // every slot up to this tick has been swept
        int pending;    // linked entries, cancelled-from-elsewhere ones included
        boolean sweepSet;

        Wheel(EventLoop loop) {
            this.loop = loop;
            this.sweptTick = tickAt(origin);
        }

        long tickAt(long nanos) {
            return (nanos - origin) / TICK_NANOS;
        }

        Entry add(long deadlineNanos, Runnable action, ContextInternal context) {
            // the first tick whose sweep sees the deadline passed; never one already swept
            long tick = Math.max(sweptTick + 1, (deadlineNanos - origin + TICK_NANOS - 1) / TICK_NANOS);
            Entry entry = new Entry(this, deadlineNanos, action, context, (int) (tick & (SLOTS - 1)));
            Entry head = heads[entry.slot];
            entry.next = head;
            if (head != null) {
                head.prev = entry;
            }
            heads[entry.slot] = entry;
            if (++pending == 1 && !sweepSet) {
                sweepSet = true;
                loop.schedule(this::sweep, TICK_MILLIS, TimeUnit.MILLISECONDS);
            }
            return entry;
        }

        void unlink(Entry entry) {
            if (entry.prev != null) {
                entry.prev.next = entry.next;
            } else {
                heads[entry.slot] = entry.next;
            }
            if (entry.next != null) {
                entry.next.prev = entry.prev;
            }
            entry.prev = null;
            entry.next = null;
            entry.linked = false;
            pending--;
        }

        void sweep() {
            sweepSet = false;
            long now = System.nanoTime();
            long nowTick = tickAt(now);
            long from = Math.max(sweptTick + 1, nowTick - SLOTS + 1); // a late sweep visits each slot once
            sweptTick = nowTick; // a deadline set by a firing action goes to a later slot, not one passed already
            for (long tick = from; tick <= nowTick; tick++) {
                Entry entry = heads[(int) (tick & (SLOTS - 1))];
                while (entry != null) {
                    Entry next = entry.next;
                    if (entry.cancelled) {
                        unlink(entry);
                    } else if (entry.deadlineNanos - now <= 0) {
                        unlink(entry);
                        entry.fire();
                    }
                    entry = next;
                }
            }
            if (pending > 0 && !sweepSet) {
                sweepSet = true;
                loop.schedule(this::sweep, TICK_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
    }

    private static final class Entry implements Timer {
        final Wheel wheel;
        final long deadlineNanos;
        final int slot;
        Runnable action;          // dropped when cancelled: a cancelled entry keeps no request alive
        final ContextInternal context;
        Entry prev;
        Entry next;
        boolean linked = true;
        volatile boolean cancelled;

        Entry(Wheel wheel, long deadlineNanos, Runnable action, ContextInternal context, int slot) {
            this.wheel = wheel;
            this.deadlineNanos = deadlineNanos;
            this.action = action;
            this.context = context;
            this.slot = slot;
        }

        @Override
        public void cancel() {
            cancelled = true;
            if (wheel.loop.inEventLoop()) {
                action = null;
                if (linked) {
                    wheel.unlink(this);
                }
            } // else its loop drops it when it sweeps its slot
        }

        void fire() {
            Runnable run = action;
            action = null;
            if (run != null) {
                context.emit(ignored -> run.run()); // on the attempt's own context, as a Vert.x timer would
            }
        }
    }
}
