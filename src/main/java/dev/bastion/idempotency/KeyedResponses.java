package dev.bastion.idempotency;

import java.util.function.Function;
import java.util.function.Supplier;

import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.RestResponse;

/**
 * The HTTP side of keyed requests: header names, the keyed/unkeyed branch, and stored responses as replies.
 * <p>
 * A keyed write answers with a {@code RestResponse<Object>}, not a {@code Response}: for a
 * {@code Response} Quarkus REST negotiates the media type and parses it again on every request; for
 * a declared entity type it fixes the resource's {@code @Produces} at build time, and only looks up
 * the writer of the entity's class (bench/profile: the writer lookups of a create fell from ~6 % to
 * ~2 % of its samples). A stored body is a String, which the JSON writer writes verbatim.
 */
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
    public static Uni<RestResponse<Object>> respond(String idempotencyKey, Supplier<Uni<RestResponse<Object>>> withoutKey,
                                        Function<String, Uni<StoredResponse>> once, Function<Long, String> location) {
        if (idempotencyKey == null) {
            return withoutKey.get();
        }
        return once.apply(idempotencyKey).map(stored -> toResponse(stored,
                location == null || stored.resourceId() == null ? null : location.apply(stored.resourceId())));
    }

    /** The stored status and body, verbatim; {@code location} (a URL) may be null. */
    public static RestResponse<Object> toResponse(StoredResponse stored, String location) {
        RestResponse.ResponseBuilder<Object> response = RestResponse.ResponseBuilder.<Object>create(stored.status())
                .entity(stored.body())
                .type(MediaType.APPLICATION_JSON_TYPE);
        if (location != null) {
            response.header(HttpHeaders.LOCATION, location);
        }
        if (stored.replayed()) {
            response.header(REPLAYED, "true");
        }
        return response.build();
    }

    /** A write's own answer (no key, or the key's first execution), as every keyed write returns it. */
    public static RestResponse<Object> answer(RestResponse.Status status, Object entity) {
        return RestResponse.ResponseBuilder.create(status, entity).build();
    }
}
