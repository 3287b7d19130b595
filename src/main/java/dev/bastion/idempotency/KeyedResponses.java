package dev.bastion.idempotency;

import java.net.URI;

import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/** The HTTP side of keyed requests: header names, and a stored response turned back into a reply. */
public final class KeyedResponses {

    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    /** Set on a reply served from storage, so clients can tell a repeat from a new execution. */
    public static final String REPLAYED = "Idempotency-Replayed";

    private KeyedResponses() {
    }

    /** The stored status and body, verbatim; {@code location} may be null. */
    public static Response toResponse(StoredResponse stored, URI location) {
        Response.ResponseBuilder response = Response.status(stored.status())
                .type(MediaType.APPLICATION_JSON)
                .entity(stored.body());
        if (location != null) {
            response.location(location);
        }
        if (stored.replayed()) {
            response.header(REPLAYED, "true");
        }
        return response.build();
    }
}
