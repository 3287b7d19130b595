package dev.bastion.idempotency;

/**
 * The response a keyed request produced the first time, replayed verbatim to its repeats.
 *
 * @param replayed true when this is a repeat served from storage, not a new execution
 */
public record StoredResponse(int status, String body, Long resourceId, boolean replayed) {

    public static StoredResponse fresh(int status, String body, Long resourceId) {
        return new StoredResponse(status, body, resourceId, false);
    }
}
