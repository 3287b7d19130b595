package dev.bastion.idempotency;

/** The response a keyed request produced the first time, replayed verbatim to its repeats. */
public record StoredResponse(int status, String body, Long resourceId) {
}
