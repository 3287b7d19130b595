package dev.bastion.idempotency;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bastion.api.ApiProblem;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Exactly-once creation for client retries ({@code Idempotency-Key} header).
 * <p>
 * {@link #once} must run inside the caller's unit of work. It claims the key with
 * {@code INSERT ... ON CONFLICT}: a concurrent twin blocks on the primary key until the first
 * transaction ends, then sees its committed response and replays it. The response is stored in the
 * same transaction as the resource, so a replay never points at a write that was rolled back.
 */
@ApplicationScoped
public class IdempotencyKeys {

    private static final Logger LOG = Logger.getLogger(IdempotencyKeys.class);

    private static final String CLAIM = """
            INSERT INTO idempotency_key (operation, idempotency_key, request_hash, expires_at)
            VALUES (:operation, :key, :hash, now() + make_interval(secs => :ttl))
            ON CONFLICT (operation, idempotency_key) DO UPDATE
               SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL,
                   resource_id = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
             WHERE idempotency_key.expires_at < now()""";
    private static final String LOOKUP = """
            SELECT request_hash, response_status, response_body, resource_id FROM idempotency_key
             WHERE operation = :operation AND idempotency_key = :key""";
    private static final String COMPLETE = """
            UPDATE idempotency_key SET response_status = :status, response_body = :body, resource_id = :resource
             WHERE operation = :operation AND idempotency_key = :key""";

    private final ObjectMapper json;
    private final long ttlSeconds;

    public IdempotencyKeys(ObjectMapper json, @ConfigProperty(name = "bastion.idempotency.ttl") long ttlSeconds) {
        this.json = json;
        this.ttlSeconds = ttlSeconds;
    }

    /**
     * Runs {@code work} once per (operation, key); repeats with the same request get the stored
     * response, repeats with a different request get 422. Call inside a unit of work.
     */
    public Uni<StoredResponse> once(String operation, String key, Object request, Supplier<Uni<StoredResponse>> work) {
        String hash = hash(request);
        return Panache.getSession().chain(session -> session.createNativeQuery(CLAIM)
                .setParameter("operation", operation).setParameter("key", key)
                .setParameter("hash", hash).setParameter("ttl", (double) ttlSeconds)
                .executeUpdate()
                .chain(claimed -> claimed == 1
                        ? work.get().call(response -> session.createNativeQuery(COMPLETE)
                                .setParameter("status", response.status()).setParameter("body", response.body())
                                .setParameter("resource", response.resourceId())
                                .setParameter("operation", operation).setParameter("key", key)
                                .executeUpdate())
                        : session.createNativeQuery(LOOKUP, Object[].class)
                                .setParameter("operation", operation).setParameter("key", key)
                                .getResultList()
                                .map(rows -> replay(rows, hash))));
    }

    private static StoredResponse replay(List<Object[]> rows, String hash) {
        Optional<Object[]> row = rows.stream().findFirst();
        if (row.isEmpty() || row.get()[1] == null) {
            // cannot happen while claim and response commit together; refuse rather than guess
            throw ApiProblem.status(409, "idempotency-key-in-use", "Idempotency key in use")
                    .detail("A request with this Idempotency-Key is still being processed.")
                    .suggestion("Retry after a moment with the same key.")
                    .build();
        }
        if (!hash.equals(((String) row.get()[0]).trim())) {
            throw ApiProblem.status(422, "idempotency-key-reused", "Idempotency key reused")
                    .detail("This Idempotency-Key was already used with a different request body.")
                    .field("Idempotency-Key")
                    .suggestion("Use a new key for a new request; reuse a key only to retry the identical request.")
                    .build();
        }
        Number resource = (Number) row.get()[3];
        return new StoredResponse(((Number) row.get()[1]).intValue(), (String) row.get()[2],
                resource == null ? null : resource.longValue(), true);
    }

    /** SHA-256 of the request's canonical JSON: what "the same body" means for a repeat. */
    String hash(Object request) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(json.writeValueAsString(request).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (JsonProcessingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException("cannot hash request", e);
        }
    }

    /** Deletes expired keys every ten minutes, outside any request. */
    void scheduleCleanup(@Observes StartupEvent start, Vertx vertx, Pool pool) {
        vertx.setPeriodic(600_000L, id -> pool.query("DELETE FROM idempotency_key WHERE expires_at < now()")
                .execute()
                .subscribe().with(rows -> LOG.debugf("Removed %d expired idempotency keys", rows.rowCount()),
                        error -> LOG.warnf("Expired idempotency keys not removed: %s", error.getMessage())));
    }
}
