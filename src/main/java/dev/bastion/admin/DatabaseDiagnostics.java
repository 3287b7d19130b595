package dev.bastion.admin;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.bastion.database.DatabaseException;
import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.DatabaseProbe;
import dev.bastion.database.FailureClassifier;
import dev.bastion.database.FailureKind;
import io.quarkus.runtime.annotations.RegisterForReflection;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Read-only probes of the server, run one after another over the probe connection (never the pool,
 * so they work when the pool is exhausted). Reports sessions by pid, state and duration only: other
 * sessions' query text may hold customer data and is never returned.
 */
@ApplicationScoped
public class DatabaseDiagnostics {

    private static final String CONNECTIONS = """
            SELECT current_setting('max_connections')::int,
                   (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
                   (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bastion')""";
    private static final String LONG_RUNNING = """
            SELECT pid, application_name, state, extract(epoch FROM now() - query_start)::float8, wait_event_type
              FROM pg_stat_activity
             WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
               AND now() - query_start > make_interval(secs => $1)
             ORDER BY 4 DESC LIMIT 20""";
    private static final String IDLE_IN_TRANSACTION = """
            SELECT pid, application_name, state, extract(epoch FROM now() - state_change)::float8, wait_event_type
              FROM pg_stat_activity
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'
             ORDER BY 4 DESC LIMIT 20""";
    private static final String LOCK_WAITS = """
            SELECT pid, application_name, state, extract(epoch FROM now() - query_start)::float8, wait_event_type,
                   pg_blocking_pids(pid)
              FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
             ORDER BY 4 DESC LIMIT 20""";

    /**
     * The sessions that block others: who (pid, application), what they are doing, how long their
     * transaction has been open, how many sessions wait on them and on which relations.
     */
    private static final String BLOCKERS = """
            WITH waits AS (
                SELECT pid, unnest(pg_blocking_pids(pid)) AS blocker
                  FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock')
            SELECT b.pid, b.application_name, b.state,
                   extract(epoch FROM now() - coalesce(b.xact_start, b.query_start))::float8,
                   count(*)::int,
                   (SELECT string_agg(DISTINCT l.relation::regclass::text, ', ')
                      FROM pg_locks l
                     WHERE l.pid = b.pid AND l.locktype = 'relation'
                       AND l.relation IN (SELECT wl.relation FROM pg_locks wl
                                           WHERE wl.pid IN (SELECT pid FROM waits WHERE blocker = b.pid)
                                             AND wl.relation IS NOT NULL))
              FROM waits w JOIN pg_stat_activity b ON b.pid = w.blocker
             GROUP BY b.pid, b.application_name, b.state, b.xact_start, b.query_start
             ORDER BY 4 DESC LIMIT 20""";

    private final DatabaseProbe probe;
    private final DatabaseSettings guardrails;

    public DatabaseDiagnostics(DatabaseProbe probe, DatabaseSettings guardrails) {
        this.probe = probe;
        this.guardrails = guardrails;
    }

    public Uni<Report> run() {
        double longAfter = Math.min(guardrails.leakThreshold().toMillis() / 1000.0, 5.0);
        return probe.roundTrip().chain(rtt -> probe.query("SHOW server_version")
                .chain(version -> probe.query(CONNECTIONS)
                        .chain(connections -> probe.query(LONG_RUNNING, longAfter)
                                .chain(longRunning -> probe.query(IDLE_IN_TRANSACTION)
                                        .chain(idle -> probe.query(LOCK_WAITS)
                                                .chain(locks -> probe.query(BLOCKERS)
                                                        .map(blockers -> report(rtt.toNanos() / 1e6, version.get(0).getString(0),
                                                                connections.get(0), sessions(longRunning), sessions(idle),
                                                                sessions(locks), blockers(blockers)))))))))
                .onFailure().transform(DatabaseDiagnostics::classified);
    }

    /**
     * The probe's failure as the API answers database failures (a refused password 503
     * database-auth-failed, an unreachable server 503 database-unavailable), not as an unexpected 500.
     */
    private static DatabaseException classified(Throwable error) {
        if (error instanceof io.smallrye.mutiny.TimeoutException || error instanceof java.util.concurrent.TimeoutException) {
            return new DatabaseException(DatabaseFailure.of(FailureKind.CONNECTION), OPERATION, error); // no answer in time
        }
        return FailureClassifier.toException(error, OPERATION);
    }

    private static final String OPERATION = "admin.diagnostics";

    private Report report(double rttMs, String version, Row connections, List<Session> longRunning,
                          List<Session> idleInTransaction, List<Session> lockWaits, List<Blocker> blockers) {
        int max = connections.getInteger(0);
        Connections c = new Connections(max, connections.getLong(1), connections.getLong(2),
                guardrails.poolMaxSize(), max - connections.getLong(1));
        List<String> warnings = new ArrayList<>();
        if (guardrails.poolMaxSize() > max / 2) {
            warnings.add("The pool may grow to " + guardrails.poolMaxSize() + " connections, more than half of the server's "
                    + "max_connections (" + max + "): with several replicas the server will refuse connections.");
        }
        if (!idleInTransaction.isEmpty()) {
            warnings.add(idleInTransaction.size() + " session(s) idle in transaction hold locks and snapshots.");
        }
        if (!lockWaits.isEmpty()) {
            warnings.add(lockWaits.size() + " session(s) are waiting for locks.");
        }
        for (Blocker b : blockers) {
            warnings.add("Session " + b.pid() + " (" + (b.applicationName() == null || b.applicationName().isEmpty()
                    ? "no application name" : b.applicationName()) + ", " + b.state() + ", transaction open for "
                    + b.transactionSeconds() + " s) blocks " + b.waiting() + " session(s)"
                    + (b.relations() == null ? "" : " on " + b.relations())
                    + ": end it with pg_terminate_backend(" + b.pid() + ") if it is not expected to finish.");
        }
        return new Report(Math.round(rttMs * 100) / 100.0, version, c, longRunning, idleInTransaction, lockWaits, blockers,
                warnings);
    }

    private static List<Blocker> blockers(List<Row> rows) {
        return rows.stream().map(r -> new Blocker(r.getInteger(0), r.getString(1), r.getString(2),
                Math.round(r.getDouble(3) * 1000) / 1000.0, r.getInteger(4), r.getString(5))).toList();
    }

    private static List<Session> sessions(List<Row> rows) {
        return rows.stream().map(r -> new Session(r.getInteger(0), r.getString(1), r.getString(2),
                Math.round(r.getDouble(3) * 1000) / 1000.0, r.getString(4),
                r.size() > 5 ? List.of(r.getArrayOfIntegers(5)) : List.of())).toList();
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Report(double roundTripMs, String serverVersion, Connections connections, List<Session> longRunning,
                         List<Session> idleInTransaction, List<Session> lockWaits, List<Blocker> blockers,
                         List<String> warnings) {
    }

    /** A session others wait for; {@code relations} are the tables both hold or wait to lock. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    @RegisterForReflection // serialised to JSON inside a generic or untyped response
    public record Blocker(int pid, String applicationName, String state, double transactionSeconds, int waiting,
                          String relations) {
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Connections(int maxConnections, long inUseTotal, long usedByBastion, int poolMaxSize, long headroom) {
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Session(int pid, String applicationName, String state, double seconds, String waitEventType,
                         List<Integer> blockedBy) {
    }
}
