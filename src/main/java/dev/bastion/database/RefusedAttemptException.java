package dev.bastion.database;

/**
 * An attempt refused before it took a connection (the pool's admission, a row's bound): nothing was
 * sent to the database, it is never retried inside the service, and it carries the Retry-After the
 * refusing gate worked out from the waiting it saw, so that refused callers come back spread out.
 * A refused caller that retries at once is back the moment its answer arrives: during a storm of
 * refusals the API holds each answer until the caller has spent its hold since it arrived, waiting
 * included (see RefusalHold).
 */
public abstract class RefusedAttemptException extends DatabaseException {

    private final long retryAfterMillis;
    private final boolean atOnce;
    private final long waitedMillis;
    private final long requestLeftMillis;

    /**
     * {@code waitedMillis}: how long the request had waited for a place when it was refused (at the door
     * included); {@code requestLeftMillis}: what the request's deadline left it then.
     */
    protected RefusedAttemptException(FailureKind kind, long retryAfterMillis, boolean atOnce, long waitedMillis,
                                      long requestLeftMillis) {
        super(DatabaseFailure.of(kind), "admission", null);
        this.retryAfterMillis = retryAfterMillis;
        this.atOnce = atOnce;
        this.waitedMillis = waitedMillis;
        this.requestLeftMillis = requestLeftMillis;
    }

    /** Refused on arrival at its queue, without waiting there (not after its wait ran out). */
    public boolean atOnce() {
        return atOnce;
    }

    /** How long the request had waited for a place (0 for a row's refusal, which does not wait). */
    public long waitedMillis() {
        return waitedMillis;
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
