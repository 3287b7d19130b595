package dev.bastion.database;

/**
 * Retries left for one call of a unit of work. Contention (deadlock, serialization failure) and
 * other transient failures have separate budgets: DB_DEADLOCK_RETRY_COUNT and DB_MAX_RETRIES.
 * No retry is granted when its backoff could not end before the deadline (the earlier of
 * DB_RETRY_DEADLINE and DB_REQUEST_TIMEOUT), so what the monitors record as "retried" matches what
 * the unit of work does and no caller waits out a backoff only to be refused. One instance lives across
 * the attempts of one call; attempts of a call never overlap.
 */
final class RetryBudget {

    private final RetryPolicy policy;
    private final long deadlineNanos;
    private int contentionRetries;
    private int otherRetries;
    private int connectionLimitRetries;
    private int attempts;
    private boolean commitMayHaveLanded;
    private volatile CommitGate current; // the attempt under way (a caller's hang-up reaches it from another thread)
    private volatile boolean callerGone;

    /** A budget whose window ({@link RetryPolicy#window()}) starts now. */
    RetryBudget(RetryPolicy policy) {
        this.policy = policy;
        this.deadlineNanos = System.nanoTime() + policy.window().toNanos();
    }

    /**
     * An attempt of this call sent COMMIT and lost its answer: from now on a later attempt's failure
     * cannot tell the caller "nothing was saved".
     */
    void commitMayHaveLanded() {
        commitMayHaveLanded = true;
    }

    boolean commitMayHaveLandedEarlier() {
        return commitMayHaveLanded;
    }

    /** Starts an attempt, decided by {@code gate}, and returns its number, from 1. */
    int beginAttempt(CommitGate gate) {
        current = gate;
        if (callerGone) { // gone during a backoff: the retry queues for nothing
            gate.callerGoneWhileQueued();
        }
        return ++attempts;
    }

    /**
     * The call's caller went away: the attempt under way leaves its queue if it has no place in the
     * pool yet (see {@link CommitGate#callerGoneWhileQueued()}); one that holds a place runs on.
     */
    void callerGone() {
        callerGone = true;
        CommitGate gate = current;
        if (gate != null) {
            gate.callerGoneWhileQueued();
        }
    }

    int attempts() {
        return attempts;
    }

    /** Whether the call's caller went away (see {@link #callerGone()}). */
    boolean isCallerGone() {
        return callerGone;
    }

    /** Retries granted so far, of every kind. */
    int retries() {
        return contentionRetries + otherRetries + connectionLimitRetries;
    }

    /** Spends one retry for this kind if one is left and its backoff ends before the deadline. */
    boolean trySpend(FailureKind kind) {
        return trySpend(kind, kind.retryable());
    }

    /** As {@link #trySpend(FailureKind)}, for a failure whose retryability the attempt decided ({@code retryable}). */
    boolean trySpend(FailureKind kind, boolean retryable) {
        if (!retryable || System.nanoTime() + policy.longestBackoffNanos(retries()) >= deadlineNanos) {
            return false;
        }
        if (kind == FailureKind.CONNECTION_LIMIT) {
            // nothing ran; the retry waits in the pool's admission for a connection the pool has: only the deadline bounds it
            return ++connectionLimitRetries > 0;
        }
        if (kind.isContention()) {
            return contentionRetries < policy.contentionRetries() && ++contentionRetries > 0;
        }
        return otherRetries < policy.otherRetries() && ++otherRetries > 0;
    }
}
