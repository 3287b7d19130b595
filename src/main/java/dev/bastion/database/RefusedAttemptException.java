package dev.bastion.database;

/**
 * An attempt refused before it took a connection (the pool's admission, a row's bound): nothing was
 * sent to the database, it is never retried inside the service, and it carries the Retry-After the
 * refusing gate worked out from the waiting it saw, so that refused callers come back spread out.
 */
public abstract class RefusedAttemptException extends DatabaseException {

    private final long retryAfterMillis;

    protected RefusedAttemptException(FailureKind kind, long retryAfterMillis) {
        super(DatabaseFailure.of(kind), "admission", null);
        this.retryAfterMillis = retryAfterMillis;
    }

    /** When the caller should come back, in milliseconds. */
    public long retryAfterMillis() {
        return retryAfterMillis;
    }
}
