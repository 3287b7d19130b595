package dev.bastion.database;

import java.time.Duration;

/**
 * Retries left for one call of a unit of work. Contention (deadlock, serialization failure) and
 * other transient failures have separate budgets: DB_DEADLOCK_RETRY_COUNT and DB_MAX_RETRIES.
 * No retry is granted when its backoff could not end before the deadline (the earlier of
 * DB_RETRY_DEADLINE and DB_REQUEST_TIMEOUT), so what the monitors record as "retried" matches what
 * the guard does and no caller waits out a backoff only to be refused. One instance lives across
 * the attempts of one call; attempts of a call never overlap.
 */
final class RetryBudget {

    private final int maxContentionRetries;
    private final int maxOtherRetries;
    private final long deadlineNanos;
    private final long baseDelayNanos;
    private final long maxDelayNanos;
    private int contentionRetries;
    private int otherRetries;
    private int attempts;

    /**
     * @param deadline  time from now after which no attempt may start
     * @param baseDelay first backoff; each retry doubles it up to {@code maxDelay}, with a jitter of
     *                  up to {@code baseDelay} either way (as the guard's exponential backoff does)
     */
    RetryBudget(int maxContentionRetries, int maxOtherRetries, Duration deadline, Duration baseDelay, Duration maxDelay) {
        this.maxContentionRetries = maxContentionRetries;
        this.maxOtherRetries = maxOtherRetries;
        this.deadlineNanos = System.nanoTime() + deadline.toNanos();
        this.baseDelayNanos = baseDelay.toNanos();
        this.maxDelayNanos = maxDelay.toNanos();
    }

    /** Starts an attempt and returns its number, from 1. */
    int beginAttempt() {
        return ++attempts;
    }

    int attempts() {
        return attempts;
    }

    /** Spends one retry for this kind if one is left and its backoff ends before the deadline. */
    boolean trySpend(FailureKind kind) {
        if (!kind.retryable() || System.nanoTime() + longestNextBackoff() >= deadlineNanos) {
            return false;
        }
        if (kind.isContention()) {
            return contentionRetries < maxContentionRetries && ++contentionRetries > 0;
        }
        return otherRetries < maxOtherRetries && ++otherRetries > 0;
    }

    private long longestNextBackoff() {
        long delay = baseDelayNanos;
        for (int retry = contentionRetries + otherRetries; retry > 0 && delay < maxDelayNanos; retry--) {
            delay *= 2;
        }
        return Math.min(delay, maxDelayNanos) + baseDelayNanos;
    }
}
