package dev.bastion.idempotency;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bastion.api.ApiProblem;
import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.StatementTimeout;
import dev.bastion.database.TransactionSpec;
import dev.bastion.database.UnitOfWork;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/**
 * At most one application per {@code Idempotency-Key}, for every write that accepts one.
 * <p>
 * The request first takes a transaction-scoped advisory lock on its (operation, key) without
 * waiting: if a twin with the same key still runs, it is answered at once with 409
 * {@code idempotency-key-in-use} and {@code Retry-After} instead of holding a pool connection until
 * the twin ends. Holding that lock, it claims the key with {@code INSERT ... ON CONFLICT}; a claim
 * that finds a committed key replays its response. The response is stored in the same transaction
 * as the write, so a key is visible if and only if its write committed.
 * <p>
 * Only successes are stored: a refusal (4xx) or failure rolls back with its claim, so a repeat is
 * evaluated again against the data as it is then (see README, "Idempotency").
 */
@Singleton
public class IdempotencyKeys {

    private static final Logger LOG = Logger.getLogger(IdempotencyKeys.class);

    /** Advisory lock (bigint space) that lets one replica at a time remove expired keys. */
    static final long CLEANUP_LOCK = 0x6261737469_6f6eL; // "bastion"
    /** Seconds a caller is told to wait before repeating a request whose twin is still running. */
    static final int IN_PROGRESS_RETRY_AFTER = 1;
    /** Shortest pause before a clean-up run that follows one which left expired keys. */
    static final long FOLLOW_UP_MILLIS = 1000;

    /** One row when the lock is taken (its row count is the answer: see UnitOfWork#deadlineInTransaction). */
    private static final String TRY_LOCK = "SELECT 1 WHERE pg_try_advisory_xact_lock(:lock)";
    private static final String CLAIM = """
            INSERT INTO idempotency_key (operation, idempotency_key, request_hash, expires_at)
            VALUES (:operation, :key, :hash, now() + make_interval(secs => :ttl))
            ON CONFLICT (operation, idempotency_key) DO UPDATE
               SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL,
                   resource_id = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
             WHERE idempotency_key.expires_at < now()""";
    private static final String COMPLETE = """
            UPDATE idempotency_key SET response_status = :status, response_body = :body, resource_id = :resource
             WHERE operation = :operation AND idempotency_key = :key""";
    /*
     * One batch, one short transaction: the cleanup lock ($2) is transaction-scoped, so it ends with the
     * batch (nothing session-level is left behind a transaction-mode pooler), and the DELETE runs only
     * for the replica that got it. The oldest $1 expired keys, read in expires_at order from its index (a
     * batch costs the same at 10 thousand keys or 10 million, wherever the expired ones lie in the table),
     * removed by TID; rows a claim is taking over right now are skipped. Its commit does not wait for the WAL
     * flush (synchronous_commit off for this transaction alone): a delete a crash loses is done again by the
     * next run. Answers whether this replica held the lock and how many keys it removed.
     */
    static final String DELETE_EXPIRED_BATCH = """
            WITH cleanup_lock AS (SELECT pg_try_advisory_xact_lock($2) AS held),
                 removed AS (
                     DELETE FROM idempotency_key WHERE ctid = ANY (ARRAY(
                         SELECT ctid FROM idempotency_key
                          WHERE expires_at < now() AND (SELECT held FROM cleanup_lock)
                          ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED))
                     RETURNING 1)
            SELECT (SELECT held FROM cleanup_lock), (SELECT count(*) FROM removed)::int,
                   set_config('synchronous_commit', 'off', true)""";

    private final UnitOfWork unitOfWork;
    private final ObjectMapper json;
    private final IdempotencySettings settings;
    private final Pool pool;
    private final long batchTimeoutMillis;
    private final AtomicBoolean cleaning = new AtomicBoolean();
    private volatile Vertx vertx;

    public IdempotencyKeys(UnitOfWork unitOfWork, ObjectMapper json, IdempotencySettings settings, Pool pool,
                           DatabaseSettings database) {
        this.unitOfWork = unitOfWork;
        this.json = json;
        this.settings = settings;
        this.pool = pool;
        // a batch holds a connection outside the admission: no longer than a request may (a table lock on
        // idempotency_key, say a VACUUM FULL, would otherwise keep it for as long as the lock)
        this.batchTimeoutMillis = Math.min(database.requestTimeout().toMillis(), database.commandTimeout().toMillis());
    }

    /**
     * Runs {@code work} in its own unit of work at most once per (operation, key). The first run's
     * result is stored as {@code status} with its JSON body; repeats with the same request get it
     * back marked replayed, repeats with another request get 422, repeats while it runs get 409.
     *
     * @param request    what "the same request" means: everything the work depends on (path ids included)
     * @param resourceId the id of what the work created, for a Location header (may return null)
     */
    public <T> Uni<StoredResponse> runOnce(TransactionSpec spec, String key, Object request, int status,
                                           Function<T, Long> resourceId, Supplier<Uni<T>> work) {
        return unitOfWork.run(spec.asIdempotent(), () -> once(spec.operation(), key, request,
                () -> work.get().map(result -> StoredResponse.fresh(status, serialise(result), resourceId.apply(result)))));
    }

    Uni<StoredResponse> once(String operation, String key, Object request, Supplier<Uni<StoredResponse>> work) {
        String hash = hash(request);
        return Panache.getSession().chain(session -> session.createNativeQuery(TRY_LOCK)
                .setParameter("lock", lockId(operation, key))
                .executeUpdate()
                .chain(locked -> {
                    if (locked != 1) {
                        // a twin holds the key: a domain answer, so the unit of work neither retries nor waits
                        throw inProgress();
                    }
                    return session.createNativeQuery(CLAIM)
                            .setParameter("operation", operation).setParameter("key", key)
                            .setParameter("hash", hash).setParameter("ttl", settings.ttl().toMillis() / 1000.0)
                            .executeUpdate();
                })
                .chain(claimed -> claimed == 1
                        ? work.get().call(response -> session.createNativeQuery(COMPLETE)
                                .setParameter("status", response.status()).setParameter("body", response.body())
                                .setParameter("resource", response.resourceId())
                                .setParameter("operation", operation).setParameter("key", key)
                                .executeUpdate())
                        : session.find(StoredKey.class, new StoredKey.Id(operation, key))
                                .map(stored -> replay(stored, hash))));
    }

    private static StoredResponse replay(StoredKey stored, String hash) {
        if (stored == null || stored.responseStatus == null) {
            // cannot happen while the advisory lock is held and claim and response commit together
            throw inProgress();
        }
        if (!hash.equals(stored.requestHash.trim())) {
            throw ApiProblem.status(422, "idempotency-key-reused", "Idempotency key reused")
                    .detail("This Idempotency-Key was already used with a different request.")
                    .field("Idempotency-Key")
                    .suggestion("Use a new key for a new request; reuse a key only to retry the identical request.")
                    .build();
        }
        return new StoredResponse(stored.responseStatus, stored.responseBody, stored.resourceId, true);
    }

    private static ApiProblem inProgress() {
        return ApiProblem.status(409, "idempotency-key-in-use", "Request with this key in progress")
                .detail("A request with this Idempotency-Key is still being processed.")
                .field("Idempotency-Key")
                .suggestion("Repeat the request with the same key after the Retry-After delay: it then gets the "
                        + "first request's response.")
                .retryAfter(IN_PROGRESS_RETRY_AFTER)
                .build();
    }

    /** SHA-256 of the request's canonical JSON: what "the same body" means for a repeat. */
    String hash(Object request) {
        return HexFormat.of().formatHex(sha256(serialise(request)));
    }

    /** The advisory lock of one (operation, key): the first 64 bits of their SHA-256. */
    static long lockId(String operation, String key) {
        return ByteBuffer.wrap(sha256(operation + '\n' + key)).getLong();
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private String serialise(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }

    /**
     * Removes expired keys in batches of {@code cleanupBatchSize}, each its own short transaction (bounded
     * like a request: DB_REQUEST_TIMEOUT, or DB_COMMAND_TIMEOUT when shorter), at most
     * {@code cleanupMaxBatches} per run. A transaction-scoped advisory lock, taken by each batch's own
     * statement, lets one replica at a time delete: a replica that does not get it skips the run (or
     * stops, when another took over between two batches) instead of deleting the same rows at once.
     * Traffic goes first: each batch borrows a connection and gives it back, the next waits as long as
     * the last one took (at most half of one connection's time, and of the database's attention), and
     * the run stops early while requests wait for a connection (the next run goes on from there).
     */
    public Uni<CleanupRun> removeExpired() {
        return deleteBatches(CleanupRun.SKIPPED);
    }

    private Uni<CleanupRun> deleteBatches(CleanupRun soFar) {
        long started = System.nanoTime();
        return pool.withTransaction(connection -> StatementTimeout.atMost(connection, batchTimeoutMillis)
                        .chain(() -> connection.preparedQuery(DELETE_EXPIRED_BATCH)
                                .execute(Tuple.of(settings.cleanupBatchSize(), CLEANUP_LOCK))))
                .chain(rows -> {
                    Row row = rows.iterator().next();
                    if (!row.getBoolean(0)) {
                        return Uni.createFrom().item(soFar);
                    }
                    int removed = row.getInteger(1);
                    CleanupRun run = soFar.plusBatch(removed);
                    if (removed < settings.cleanupBatchSize()) {
                        return Uni.createFrom().item(run); // the last expired key is gone
                    }
                    if (run.batches() >= settings.cleanupMaxBatches() || unitOfWork.admissionWaiters() > 0) {
                        return Uni.createFrom().item(run.stoppedEarly());
                    }
                    // the scheduler (Vert.x timers) takes whole milliseconds, at least one
                    long tookMillis = Math.max(1, (System.nanoTime() - started) / 1_000_000);
                    return Uni.createFrom().voidItem().onItem().delayIt().by(Duration.ofMillis(tookMillis))
                            .chain(() -> deleteBatches(run));
                });
    }

    /**
     * One cleanup run.
     *
     * @param ran      false when another replica held the cleanup lock
     * @param removed  expired keys deleted
     * @param batches  DELETE statements issued
     * @param keysLeft the run stopped with expired keys left: at its cap, or for requests waiting
     */
    public record CleanupRun(boolean ran, long removed, int batches, boolean keysLeft) {

        static final CleanupRun SKIPPED = new CleanupRun(false, 0, 0, false);

        CleanupRun plusBatch(int rows) {
            return new CleanupRun(true, removed + rows, batches + 1, keysLeft);
        }

        /** The run stopped before it found the last expired key (its cap, requests waiting). */
        CleanupRun stoppedEarly() {
            return new CleanupRun(ran, removed, batches, true);
        }
    }

    /**
     * Removes expired keys every {@code cleanupInterval} (and sooner while a backlog is left, see
     * {@link #cleanUntilCaughtUp}), outside any request.
     */
    void scheduleCleanup(@Observes StartupEvent start, Vertx vertx) {
        this.vertx = vertx;
        vertx.setPeriodic(settings.cleanupInterval().toMillis(), id -> cleanUntilCaughtUp());
    }

    /**
     * One clean-up run now and, while runs end with expired keys left (at their cap, or yielding to
     * waiting requests), the next one after a pause as long as the run took, at least a second: a backlog
     * is worked off at a pace the database's other requests hardly feel (at most 3,000 keys a second by
     * default, see {@link IdempotencySettings#cleanupBatchSize()}). One run per interval removed at most one
     * cap (then 100,000 keys per 10 minutes), so above about 166 keyed writes a second the table grew without
     * bound. One chain at a time: {@code cleaning} stays set through the pauses, so the interval's
     * timer does not start a second one.
     */
    void cleanUntilCaughtUp() {
        if (cleaning.compareAndSet(false, true)) {
            runThenFollowUp(false);
        }
    }

    private void runThenFollowUp(boolean followUp) {
        if (followUp && unitOfWork.admissionWaiters() > 0) {
            vertx.setTimer(FOLLOW_UP_MILLIS, id -> runThenFollowUp(true)); // traffic first: not even one batch now
            return;
        }
        long started = System.nanoTime();
        removeExpired().subscribe().with(run -> {
            LOG.debugf("Expired idempotency keys: %s", run);
            if (run.keysLeft()) {
                long tookMillis = (System.nanoTime() - started) / 1_000_000;
                vertx.setTimer(Math.max(FOLLOW_UP_MILLIS, tookMillis), id -> runThenFollowUp(true));
            } else {
                cleaning.set(false);
            }
        }, error -> {
            cleaning.set(false);
            LOG.warnf("Expired idempotency keys not removed: %s", error.getMessage());
        });
    }
}
