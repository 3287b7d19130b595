package dev.bastion.database.monitor;

import java.time.Clock;
import java.time.Duration;

/**
 * What the admin API reports about units of work, kept in sliding windows: how many ran, failed on
 * the server side, were retried and recovered, were slow, and how long they took. Lock-free; every
 * update is a few atomic additions on the request path.
 */
final class TransactionWindows {

    private static final Duration DAY = Duration.ofHours(24);

    private final Duration slowThreshold;
    private final SlidingWindow units;
    private final SlidingWindow serverFailures;
    private final SlidingWindow unitsWithRetries;
    private final SlidingWindow recoveredUnits;
    private final SlidingWindow slowUnits;
    private final SlidingWindow durationMicros;
    private final SlidingWindow rollbackFailures;
    private final SlidingWindow savepointRollbacks;

    TransactionWindows(Clock clock, Duration slowThreshold) {
        this.slowThreshold = slowThreshold;
        this.units = new SlidingWindow(clock);
        this.serverFailures = new SlidingWindow(clock);
        this.unitsWithRetries = new SlidingWindow(clock);
        this.recoveredUnits = new SlidingWindow(clock);
        this.slowUnits = new SlidingWindow(clock);
        this.durationMicros = new SlidingWindow(clock);
        this.rollbackFailures = new SlidingWindow(clock);
        this.savepointRollbacks = new SlidingWindow(clock);
    }

    /** Counts a finished unit; true when it was slower than the threshold. */
    boolean unitFinished(long nanos, int attempts, boolean succeeded, boolean serverFailure) {
        units.increment();
        durationMicros.add(nanos / 1000);
        if (attempts > 1) {
            unitsWithRetries.increment();
            if (succeeded) {
                recoveredUnits.increment();
            }
        }
        if (serverFailure) {
            serverFailures.increment();
        }
        boolean slow = nanos > slowThreshold.toNanos();
        if (slow) {
            slowUnits.increment();
        }
        return slow;
    }

    void rollbackFailed() {
        rollbackFailures.increment();
    }

    void savepointRolledBack() {
        savepointRollbacks.increment();
    }

    TransactionStatistics statistics(io.smallrye.faulttolerance.api.CircuitBreakerState breakerState) {
        long count = units.sum(DAY);
        long retried = unitsWithRetries.sum(DAY);
        return new TransactionStatistics(count, serverFailures.sum(Duration.ofHours(1)),
                count == 0 ? 0.0 : durationMicros.sum(DAY) / 1000.0 / count,
                slowUnits.sum(DAY), retried, retried == 0 ? null : (Double) ((double) recoveredUnits.sum(DAY) / retried),
                rollbackFailures.sum(DAY), savepointRollbacks.sum(DAY), breakerState);
    }
}
