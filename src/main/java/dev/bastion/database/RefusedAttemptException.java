package dev.bastion.database;

/**
 * An attempt refused before it took a connection (the pool's admission, a row's bound): nothing was
 * sent to the database, it is never retried inside the service, and it carries the Retry-After the
 * refusing gate worked out from the waiting it saw, so that refused callers come back spread out.
 * One refused at once (on arrival, not after waiting its turn) is what a crowd that retries at
 * once sends again at once: the API holds its answer during a storm of them (see RefusalHold).
 */
public abstract class RefusedAttemptException extends DatabaseException {

    private final long retryAfterMillis;
    private final boolean atOnce;
    private final long requestLeftMillis;

    /** {@code requestLeftMillis}: what the request's deadline left it when it was refused. */
    protected RefusedAttemptException(FailureKind kind, long retryAfterMillis, boolean atOnce, long requestLeftMillis) {
        super(DatabaseFailure.of(kind), "admission", null);
        this.retryAfterMillis = retryAfterMillis;
        this.atOnce = atOnce;
        this.requestLeftMillis = requestLeftMillis;
    }

    /** Refused on arrival at its queue, without waiting there (not after its wait ran out). */
    public boolean atOnce() {
        return atOnce;
    }

    /**
     * What the request had left of its deadline when refused: a refusal held for a storm is answered
     * within it (a transfer may have waited for one row before its second refused it).
     */
    public long requestLeftMillis() {
        return requestLeftMillis;
    }

    /** When the caller should come back, in milliseconds. */
    public long retryAfterMillis() {
        return retryAfterMillis;
    }
}
