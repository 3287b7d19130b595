package dev.bastion.database;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import dev.bastion.config.SecondsConverter;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgConnection;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgConnectOptions;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.interceptor.Interceptor;
import org.jboss.logging.Logger;

/**
 * Answers "can PostgreSQL take writes right now?" over one dedicated connection, outside the pool:
 * a pool busy with slow requests is not an outage, and the probe must not queue behind them nor
 * open a new connection on every call. The connection is reopened after a failure. While the server
 * caps this service's connections (53300, or new logins refused while others are logged in), the
 * probe uses a pooled connection instead of its own.
 * <p>
 * It connects with the pool's own options (TLS mode and trust, credentials, keepalive), so a
 * database the pool can reach is never reported unreachable because the probe spoke differently.
 */
@ApplicationScoped
public class DatabaseProbe {

    private static final Logger LOG = Logger.getLogger(DatabaseProbe.class);

    /** A standby (or a node switched to read-only) answers: it is reachable but cannot serve writes. */
    private static final String CHECK = "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'";

    /** What one probe saw. */
    public record Result(Duration roundTrip, boolean inRecovery, boolean readOnly) {
        /** Whether this node can serve the service's writes. */
        public boolean writable() {
            return !inRecovery && !readOnly;
        }
    }

    private final Vertx vertx;
    private final GuardedPoolCreator poolCreator;
    private final Pool pool;
    private final Duration timeout;
    private final Duration connectTimeout;
    private final AtomicReference<PgConnection> connection = new AtomicReference<>();
    private final AtomicReference<Uni<PgConnection>> connecting = new AtomicReference<>();
    private volatile long connectedAtWriterChange;

    public DatabaseProbe(Vertx vertx, GuardedPoolCreator poolCreator, Pool pool, DatabaseSettings guardrails) {
        this.vertx = vertx;
        this.poolCreator = poolCreator;
        this.pool = pool;
        this.timeout = guardrails.probeTimeout();
        this.connectTimeout = timeout.compareTo(guardrails.connectTimeout()) < 0 ? timeout : guardrails.connectTimeout();
    }

    /** One probe: round trip, and whether the node is a standby or read-only; fails after the probe timeout. */
    public Uni<Result> check() {
        long start = System.nanoTime();
        // a probe connection that died since the last probe (the server ended it, a restart) tells nothing
        // about the database now: one more try on a new connection, within the same timeout
        return checkOnce(start)
                .onFailure(this::lostConnection).recoverWithUni(() -> checkOnce(start))
                .ifNoItem().after(timeout).fail()
                .onFailure().invoke(this::discardInBackground);
    }

    private Uni<Result> checkOnce(long start) {
        if (poolCreator.serverCapsConnections()) {
            // the server allows this service fewer connections than the pool's size: the probe's own
            // connection would take one of them from the requests, so it probes with a pooled one
            discardInBackground();
            return pool.withConnection(c -> c.query(CHECK).execute()).map(rows -> result(rows.iterator().next(), start));
        }
        long writerChanges = writerChanges();
        if (writerChanges != connectedAtWriterChange) {
            discardInBackground(); // opened to a node that is no longer where the pool connects (DB_HOSTS)
            connectedAtWriterChange = writerChanges;
        }
        return connection()
                .chain(c -> c.query(CHECK).execute())
                .map(rows -> result(rows.iterator().next(), start))
                .onFailure().invoke(this::discardInBackground);
    }

    private long writerChanges() {
        return poolCreator.writerStatus().map(GuardedPoolCreator.WriterStatus::changes).orElse(0L);
    }

    private static Result result(Row row, long start) {
        return new Result(Duration.ofNanos(System.nanoTime() - start), row.getBoolean(0), row.getBoolean(1));
    }

    private boolean lostConnection(Throwable error) {
        return FailureClassifier.classify(error).kind() == FailureKind.CONNECTION;
    }

    /**
     * Opens the probe connection while start-up finishes (the schema migration, the HTTP server), so the
     * kubelet's first readiness probe finds it open instead of waiting for a connection. A failure is
     * left for that probe to meet again (and report).
     */
    void connectEarly(@Observes @Priority(Interceptor.Priority.APPLICATION - 1) StartupEvent start) {
        connection().subscribe().with(opened -> { }, failure -> LOG.debugf("Probe connection not opened at start: %s",
                failure.getMessage())); // the same attempt the first probe joins if it comes first
    }

    /** Round trip of one probe; fails on any error or after the probe timeout. */
    public Uni<Duration> roundTrip() {
        return check().map(Result::roundTrip);
    }

    /**
     * A read-only diagnostic query over the probe connection, so that diagnostics work even when
     * the pool is exhausted. Callers pass fixed SQL; parameters go through {@code args}.
     */
    public Uni<List<Row>> query(String sql, Object... args) {
        Uni<io.vertx.mutiny.sqlclient.RowSet<Row>> rowSet = poolCreator.serverCapsConnections()
                ? pool.preparedQuery(sql).execute(Tuple.from(args)) // no slot of the capped server's taken for this
                : connection().chain(c -> c.preparedQuery(sql).execute(Tuple.from(args)));
        return rowSet
                .map(rows -> {
                    List<Row> out = new ArrayList<>();
                    rows.forEach(out::add);
                    return out;
                })
                .ifNoItem().after(timeout).fail()
                .onFailure().invoke(this::discardInBackground);
    }

    /** The open probe connection, or the one being opened (shared: the first probe may come while start-up's is on its way). */
    private Uni<PgConnection> connection() {
        PgConnection current = connection.get();
        if (current != null) {
            return Uni.createFrom().item(current);
        }
        Uni<PgConnection> opening = options().onItem().transformToUni(options -> PgConnection.connect(vertx, options))
                .onItem().transformToUni(this::supported)
                .invoke(connection::set)
                .eventually(() -> connecting.set(null))
                .memoize().indefinitely();
        while (true) {
            Uni<PgConnection> inFlight = connecting.get();
            if (inFlight != null) {
                return inFlight;
            }
            if (connecting.compareAndSet(null, opening)) {
                return opening;
            }
        }
    }

    /** The connection, or a failure (and the connection closed) when the server is older than this build supports. */
    private Uni<PgConnection> supported(PgConnection opened) {
        try {
            UnsupportedPostgresException.requireSupported(opened.databaseMetadata().majorVersion(),
                    opened.databaseMetadata().fullVersion());
            return Uni.createFrom().item(opened);
        } catch (UnsupportedPostgresException tooOld) {
            return opened.close().onItemOrFailure().transformToUni((closed, error) -> Uni.createFrom().failure(tooOld));
        }
    }

    /**
     * The pool's connect options, with the probe's own name and a connect timeout within the probe's:
     * fresh credentials each time (DB_PASSWORD_FILE), so a rotated password reaches the probe too.
     */
    Uni<PgConnectOptions> options() {
        return Uni.createFrom().deferred(() -> { // the pool is created on first use of its bean: make it exist
            pool.getDelegate();
            return Uni.createFrom().completionStage(() -> poolCreator.freshConnectOptions().toCompletionStage());
        }).map(options -> {
            Map<String, String> properties = new HashMap<>(options.getProperties());
            properties.put("application_name", "bastion-probe");
            return options.setProperties(properties)
                    // its own client meters: the pool's name again would register the pool's gauges twice (a WARN)
                    .setMetricsName("bastion-probe")
                    .setConnectTimeout((int) connectTimeout.toMillis()); // both bounded to 600 s
        });
    }

    /**
     * Drops the probe connection without waiting for it to close: on a silent network a close waits
     * for TCP to give up, and the probe must answer within its own timeout every time.
     */
    private void discardInBackground() {
        discard().subscribe().with(closed -> { }, failure -> { });
    }

    private Uni<Void> discard() {
        PgConnection current = connection.getAndSet(null);
        return current == null ? Uni.createFrom().voidItem() : current.close().onFailure().recoverWithNull();
    }

    /** Closes the probe connection at shutdown, without letting a silent network hold shutdown up. */
    void close(@Observes ShutdownEvent shutdown) {
        try {
            discard().await().atMost(timeout);
        } catch (RuntimeException e) {
            LOG.debugf("Probe connection not closed cleanly within %s: %s", SecondsConverter.format(timeout),
                    e.getMessage());
        }
    }
}
