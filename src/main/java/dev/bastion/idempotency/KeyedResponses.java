package dev.bastion.idempotency;

import java.util.function.Function;
import java.util.function.Supplier;

import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/** The HTTP side of keyed requests: header names, the keyed/unkeyed branch, and stored responses as replies. */
public final class KeyedResponses {

    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    /** Set on a reply served from storage, so clients can tell a repeat from a new execution. */
    public static final String REPLAYED = "Idempotency-Replayed";

    private KeyedResponses() {
    }

    /**
     * The one branch of every write that accepts an {@code Idempotency-Key}: without a key the plain
     * call, with one the call that runs at most once per key.
     *
     * @param location the Location of a stored response's resource id, or null for none
     */
    public static Uni<Response> respond(String idempotencyKey, Supplier<Uni<Response>> withoutKey,
                                        Function<String, Uni<StoredResponse>> once, Function<Long, String> location) {
        if (idempotencyKey == null) {
            return withoutKey.get();
        }
        return once.apply(idempotencyKey).map(stored -> toResponse(stored,
                location == null || stored.resourceId() == null ? null : location.apply(stored.resourceId())));
    }

    /** The stored status and body, verbatim; {@code location} (a URL) may be null. */
    public static Response toResponse(StoredResponse stored, String location) {
        Response.ResponseBuilder response = Response.status(stored.status())
                .type(MediaType.APPLICATION_JSON)
                .entity(stored.body());
        if (location != null) {
            response.header(HttpHeaders.LOCATION, location);
        }
        if (stored.replayed()) {
            response.header(REPLAYED, "true");
        }
        return response.build();
    }
}
