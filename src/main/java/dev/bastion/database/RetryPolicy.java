package dev.bastion.database;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;

/**
 * How a unit of work retries: the backoff the unit of work waits before each retry, and the bound
 * {@link RetryBudget} checks before granting one, from one formula. Derived from the settings:
 * the retry window never reaches past the request deadline, and no backoff is longer than half
 * the window, whatever DB_RETRY_MAX_DELAY and DB_RETRY_BASE_DELAY say.
 *
 * @param contentionRetries retries after deadlocks and serialization failures (DB_DEADLOCK_RETRY_COUNT)
 * @param otherRetries      retries after other transient failures (DB_MAX_RETRIES)
 * @param window            time from the first attempt after which no retry starts
 * @param baseDelay         first backoff, also the jitter either way
 * @param maxDelay          cap of the doubling backoff
 */
record RetryPolicy(int contentionRetries, int otherRetries, Duration window, Duration baseDelay, Duration maxDelay) {

    /** Each backoff is this many times the one before, up to {@link #maxDelay}. */
    static final int FACTOR = 2;

    static RetryPolicy of(DatabaseSettings settings) {
        Duration window = min(settings.retryDeadline(), settings.requestTimeout());
        // a backoff of at most half the window still leaves room for a retry
        Duration maxDelay = min(settings.retryMaxDelay(), window.dividedBy(2));
        Duration baseDelay = min(settings.retryBaseDelay(), maxDelay);
        if (baseDelay.compareTo(maxDelay) >= 0) {
            baseDelay = maxDelay.dividedBy(2); // the backoff must be able to grow: its first delay below its cap
        }
        return new RetryPolicy(settings.deadlockRetryCount(), settings.maxRetries(), window, baseDelay, maxDelay);
    }

    /** The longest the backoff before retry number {@code retriesSoFar + 1} can be, jitter included. */
    long longestBackoffNanos(int retriesSoFar) {
        return delayNanos(retriesSoFar) + baseDelay.toNanos();
    }

    /**
     * The backoff before retry number {@code retriesSoFar + 1}: the base delay doubled for each retry
     * before it, up to the cap, ± a jitter of the base delay; whole milliseconds, at least one (a timer's).
     */
    long backoffMillis(int retriesSoFar, RandomGenerator random) {
        long jitter = baseDelay.toNanos() == 0 ? 0 : random.nextLong(-baseDelay.toNanos(), baseDelay.toNanos() + 1);
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(delayNanos(retriesSoFar) + jitter));
    }

    private long delayNanos(int retriesSoFar) {
        long delay = baseDelay.toNanos();
        long cap = maxDelay.toNanos();
        for (int retry = retriesSoFar; retry > 0 && delay < cap; retry--) {
            delay *= FACTOR;
        }
        return Math.min(delay, cap);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
