package dev.bastion.database;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Decides, once per attempt, whether the attempt may commit or has been abandoned at the request
 * deadline. An attempt keeps running after its caller stopped waiting (the unit of work does not
 * cancel a transaction half-way, which would hand its connection back inside an open transaction);
 * this gate makes sure such an attempt rolls back instead of committing, so that a caller told
 * "nothing was saved" was told the truth. Only an attempt whose COMMIT was already sent has an
 * unknown outcome.
 * <p>
 * It also carries what the database side of the deadline needs: the attempt's deadline (which
 * becomes the transaction's {@code statement_timeout}), a way to cancel the statement running on a
 * borrowed connection, and whether the server's own limit was the stricter one.
 */
final class CommitGate {

    private static final int RUNNING = 0;
    private static final int COMMITTING = 1;
    private static final int ABANDONED = 2;

    private static final int QUEUED = 0;     // waiting for its turn on a row or for a place in the pool
    private static final int PLACED = 1;     // holds a place: from now on it runs to its end
    private static final int CALLER_GONE = 2; // its caller went away first: it never runs

    private final AtomicInteger state = new AtomicInteger(RUNNING);
    private final AtomicInteger turn = new AtomicInteger(QUEUED);
    private volatile Runnable dropWhileQueued;
    private final long deadlineNanos;
    private volatile Runnable cancelStatement;
    private volatile boolean serverLimitStricter;
    private volatile boolean waitingForRow;
    private volatile boolean cancelSent;
    private volatile boolean notDurable;

    CommitGate(long deadlineNanos) {
        this.deadlineNanos = deadlineNanos;
    }

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

    boolean abandoned() {
        return state.get() == ABANDONED;
    }

    /**
     * Called when the deadline passes. Returns true when the attempt can no longer commit (it will
     * roll back at its next step), false when its COMMIT was already on the way.
     */
    boolean abandon() {
        return state.compareAndSet(RUNNING, ABANDONED) || state.get() == ABANDONED;
    }

    /**
     * The attempt takes the place the pool's admission gave it: from now on it is never cut short.
     * False when its caller went away first: the place goes back, nothing is sent.
     */
    boolean takePlace() {
        return turn.compareAndSet(QUEUED, PLACED);
    }

    /**
     * The caller went away (a client that hung up). True when the attempt was still queued for a row
     * or a place: it is dropped there, having sent nothing, so a crowd whose clients gave up does not
     * stay queued ahead of the callers still waiting. False once it holds a place: it runs on.
     */
    boolean callerGoneWhileQueued() {
        if (turn.compareAndSet(QUEUED, CALLER_GONE)) {
            state.compareAndSet(RUNNING, ABANDONED);
            Runnable drop = dropWhileQueued;
            if (drop != null) {
                drop.run();
            }
            return true;
        }
        return false;
    }

    /** How to take the attempt out of the queues it waits in, should its caller go away before it has a place. */
    void whenCallerGoneWhileQueued(Runnable drop) {
        this.dropWhileQueued = drop;
        if (turn.get() == CALLER_GONE) { // gone before this was set
            drop.run();
        }
    }

    /** Time the attempt has left, in milliseconds (at least 1: PostgreSQL reads 0 as "no limit"). */
    long remainingMillis() {
        return Math.max(1, (deadlineNanos - System.nanoTime()) / 1_000_000);
    }

    /** Whether a timeout reported now is the request's own deadline rather than a limit of the server. */
    boolean deadlineReached() {
        return System.nanoTime() >= deadlineNanos - OWN_DEADLINE_SLACK_NANOS;
    }

    // the server's statement_timeout fires a few milliseconds after the timer that answers the caller
    private static final long OWN_DEADLINE_SLACK_NANOS = 50_000_000;

    /** How to cancel the statement the attempt is running right now (a borrowed connection's cancel request). */
    void onDeadlineCancel(Runnable cancel) {
        this.cancelStatement = cancel;
    }

    /** Sends the cancel request, if the attempt registered one and has not finished. */
    void cancelStatement() {
        Runnable cancel = cancelStatement;
        if (cancel != null) {
            cancelSent = true;
            cancel.run();
        }
    }

    /** Whether a cancel request went out for the running statement: its answer then decides the outcome. */
    boolean cancelSent() {
        return cancelSent;
    }

    /** PostgreSQL warned that this attempt's commit did not wait for its synchronous standby. */
    void notDurable() {
        notDurable = true;
    }

    /** Whether the attempt's commit is on the primary only (see {@link UnreplicatedCommits}). */
    boolean isNotDurable() {
        return notDurable;
    }

    void statementFinished() {
        cancelStatement = null;
    }

    /** The transaction runs under a statement_timeout set on the server side that is stricter than its deadline. */
    void serverLimitStricter(boolean stricter) {
        this.serverLimitStricter = stricter;
    }

    boolean serverLimitStricter() {
        return serverLimitStricter;
    }

    /** The attempt waits, without a connection, for its turn on a row other attempts are using. */
    void waitingForRow(boolean waiting) {
        this.waitingForRow = waiting;
    }

    boolean waitingForRow() {
        return waitingForRow;
    }

    /** Rolls back an attempt whose caller stopped waiting; never seen by a caller. */
    static final class AbandonedAttemptException extends RuntimeException {
        AbandonedAttemptException() {
            super("attempt abandoned at the request deadline", null, false, false);
        }
    }
}
