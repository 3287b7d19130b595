package dev.bastion.database;

/**
 * Retries left for one call of a unit of work. Contention (deadlock, serialization failure) and
 * other transient failures have separate budgets: DB_DEADLOCK_RETRY_COUNT and DB_MAX_RETRIES.
 * No retry is granted past the total deadline (DB_RETRY_DEADLINE), so what the monitors record as
 * "retried" matches what the guard does. One instance lives across the attempts of one call;
 * attempts of a call never overlap.
 */
final class RetryBudget {

    private final int maxContentionRetries;
    private final int maxOtherRetries;
    private final long deadlineNanos;
    private int contentionRetries;
    private int otherRetries;
    private int attempts;

    RetryBudget(int maxContentionRetries, int maxOtherRetries, java.time.Duration deadline) {
        this.maxContentionRetries = maxContentionRetries;
        this.maxOtherRetries = maxOtherRetries;
        this.deadlineNanos = System.nanoTime() + deadline.toNanos();
    }

    /** Starts an attempt and returns its number, from 1. */
    int beginAttempt() {
        return ++attempts;
    }

    int attempts() {
        return attempts;
    }

    /** Spends one retry for this kind if one is left. */
    boolean trySpend(FailureKind kind) {
        if (!kind.retryable() || System.nanoTime() >= deadlineNanos) {
            return false;
        }
        if (kind.isContention()) {
            return contentionRetries < maxContentionRetries && ++contentionRetries > 0;
        }
        return otherRetries < maxOtherRetries && ++otherRetries > 0;
    }
}
