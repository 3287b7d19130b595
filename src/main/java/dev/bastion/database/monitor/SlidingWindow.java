package dev.bastion.database.monitor;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counts events over the last 24 hours in one-minute buckets, without locks. Each bucket holds the
 * minute it belongs to; a write to a bucket whose minute has passed starts it afresh. A bucket
 * being reset while another thread adds to it can lose that one event: acceptable for monitoring.
 */
public final class SlidingWindow {

    private static final int BUCKETS = 24 * 60;

    private final Clock clock;
    private final AtomicLongArray minutes = new AtomicLongArray(BUCKETS);
    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);

    public SlidingWindow(Clock clock) {
        this.clock = clock;
        for (int i = 0; i < BUCKETS; i++) {
            minutes.set(i, -1);
        }
    }

    public void add(long amount) {
        long minute = currentMinute();
        int slot = (int) (minute % BUCKETS);
        long owner = minutes.get(slot);
        if (owner != minute && minutes.compareAndSet(slot, owner, minute)) {
            counts.set(slot, 0);
        }
        counts.addAndGet(slot, amount);
    }

    public void increment() {
        add(1);
    }

    /** Sum over the last {@code window} (rounded up to whole minutes, at most 24 h). */
    public long sum(Duration window) {
        long now = currentMinute();
        long span = Math.min(BUCKETS, Math.max(1, (window.toSeconds() + 59) / 60));
        long total = 0;
        for (int i = 0; i < BUCKETS; i++) {
            long minute = minutes.get(i);
            if (minute >= 0 && now - minute < span) {
                total += counts.get(i);
            }
        }
        return total;
    }

    private long currentMinute() {
        return clock.millis() / 60_000L;
    }
}
