package dev.bastion.database;

/**
 * A request at the door of the pool's admission, before its route ran (see
 * {@link UnitOfWork#arrive}): the HTTP layer's side of a wait at the door.
 */
public interface DoorRequest {

    /** Its route runs now (called on the request's own context). */
    void goIn();

    /**
     * Refused: its wait at the door of {@code waitedMillis} ran out, or (0) it may not wait at all. Answered
     * with a 503 and this Retry-After (on its own context).
     */
    void refuse(long retryAfterMillis, long waitedMillis);

    /** Runs {@code leave} if the caller hangs up while its request waits at the door. */
    void onHangUp(Runnable leave);
}
