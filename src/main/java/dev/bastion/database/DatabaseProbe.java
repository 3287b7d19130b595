package dev.bastion.database;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import io.quarkus.runtime.ShutdownEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgConnection;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgConnectOptions;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Answers "can PostgreSQL be reached right now?" over one dedicated connection, outside the pool:
 * a pool busy with slow requests is not an outage, and the probe must not queue behind them nor
 * open a new connection on every call. The connection is reopened after a failure.
 */
@ApplicationScoped
public class DatabaseProbe {

    private final Vertx vertx;
    private final PgConnectOptions options;
    private final Duration timeout;
    private final AtomicReference<PgConnection> connection = new AtomicReference<>();

    public DatabaseProbe(Vertx vertx,
                         @ConfigProperty(name = "quarkus.datasource.reactive.url") String url,
                         @ConfigProperty(name = "quarkus.datasource.username") String username,
                         @ConfigProperty(name = "quarkus.datasource.password") String password,
                         @ConfigProperty(name = "bastion.db.probe-timeout", defaultValue = "2") double timeoutSeconds,
                         DatabaseGuardrails guardrails) {
        this.vertx = vertx;
        this.options = PgConnectOptions.fromUri(url.replaceFirst("^vertx-reactive:", ""))
                .setUser(username)
                .setPassword(password)
                .setConnectTimeout(DatabaseGuardrails.millis(Math.min(timeoutSeconds, guardrails.connectTimeout())));
        this.options.addProperty("application_name", "bastion-probe");
        this.timeout = DatabaseGuardrails.seconds(timeoutSeconds);
    }

    /** Round trip of {@code SELECT 1}; fails on any error or after the probe timeout. */
    public Uni<Duration> roundTrip() {
        long start = System.nanoTime();
        return connection()
                .chain(c -> c.query("SELECT 1").execute())
                .map(rows -> Duration.ofNanos(System.nanoTime() - start))
                .ifNoItem().after(timeout).fail()
                .onFailure().call(this::discard);
    }

    /**
     * A read-only diagnostic query over the probe connection, so that diagnostics work even when
     * the pool is exhausted. Callers pass fixed SQL; parameters go through {@code args}.
     */
    public Uni<List<Row>> query(String sql, Object... args) {
        return connection()
                .chain(c -> c.preparedQuery(sql).execute(Tuple.from(args)))
                .map(rows -> {
                    List<Row> out = new ArrayList<>();
                    rows.forEach(out::add);
                    return out;
                })
                .ifNoItem().after(timeout).fail()
                .onFailure().call(this::discard);
    }

    private Uni<PgConnection> connection() {
        PgConnection current = connection.get();
        if (current != null) {
            return Uni.createFrom().item(current);
        }
        return PgConnection.connect(vertx, options).invoke(opened -> {
            if (!connection.compareAndSet(null, opened)) {
                opened.closeAndForget(); // another probe won the race
            }
        }).map(opened -> connection.get());
    }

    private Uni<Void> discard() {
        PgConnection current = connection.getAndSet(null);
        return current == null ? Uni.createFrom().voidItem() : current.close().onFailure().recoverWithNull();
    }

    void close(@Observes ShutdownEvent shutdown) {
        discard().await().indefinitely();
    }
}
