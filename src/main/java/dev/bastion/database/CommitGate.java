package dev.bastion.database;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Decides, once per attempt, whether the attempt may commit or has been abandoned at the request
 * deadline. An attempt keeps running after its caller stopped waiting (the unit of work does not
 * cancel a transaction half-way, which would hand its connection back inside an open transaction);
 * this gate makes sure such an attempt rolls back instead of committing, so that a caller told
 * "nothing was saved" was told the truth. Only an attempt whose COMMIT was already sent has an
 * unknown outcome.
 */
final class CommitGate {

    private static final int RUNNING = 0;
    private static final int COMMITTING = 1;
    private static final int ABANDONED = 2;

    private final AtomicInteger state = new AtomicInteger(RUNNING);

    /** Called by the work before each step: an abandoned attempt stops and rolls back. */
    void ensureRunning() {
        if (state.get() == ABANDONED) {
            throw new AbandonedAttemptException();
        }
    }

    /** Called once the work and its flush succeeded, right before COMMIT; throws if the caller gave up. */
    void enterCommit() {
        if (!state.compareAndSet(RUNNING, COMMITTING)) {
            throw new AbandonedAttemptException();
        }
    }

    /** Whether COMMIT has been (or is being) sent: a connection lost now leaves the outcome unknown. */
    boolean commitStarted() {
        return state.get() == COMMITTING;
    }

    /**
     * Called when the deadline passes. Returns true when the attempt can no longer commit (it will
     * roll back at its next step), false when its COMMIT was already on the way.
     */
    boolean abandon() {
        return state.compareAndSet(RUNNING, ABANDONED) || state.get() == ABANDONED;
    }

    /** Rolls back an attempt whose caller stopped waiting; never seen by a caller. */
    static final class AbandonedAttemptException extends RuntimeException {
        AbandonedAttemptException() {
            super("attempt abandoned at the request deadline", null, false, false);
        }
    }
}
