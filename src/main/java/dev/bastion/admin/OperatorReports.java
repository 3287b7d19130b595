package dev.bastion.admin;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.UnitOfWork;
import dev.bastion.database.UnreplicatedCommits;
import dev.bastion.database.DatabaseProbe;
import dev.bastion.database.monitor.ConstraintMonitor;
import dev.bastion.database.monitor.ContentionMonitor;
import dev.bastion.database.monitor.ContentionStatistics;
import dev.bastion.database.monitor.LongTransactionDetector;
import dev.bastion.database.monitor.PoolStatistics;
import dev.bastion.database.monitor.TransactionEvents;
import dev.bastion.database.monitor.TransactionStatistics;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Assembles the operators' views from the monitors (and, for health, one probe round trip). Read
 * only: it never changes how requests are served.
 */
@ApplicationScoped
public class OperatorReports {

    static final double UTILIZATION_ALERT_PERCENT = 80.0;

    private final DatabaseProbe probe;
    private final PoolStatistics pool;
    private final UnitOfWork unitOfWork;
    private final TransactionEvents transactions;
    private final ContentionMonitor deadlocks;
    private final ConstraintMonitor constraints;
    private final LongTransactionDetector longTransactions;
    private final DatabaseSettings guardrails;

    public OperatorReports(DatabaseProbe probe, PoolStatistics pool, TransactionEvents transactions,
                                ContentionMonitor deadlocks, ConstraintMonitor constraints,
                                LongTransactionDetector longTransactions, DatabaseSettings guardrails, UnitOfWork unitOfWork) {
        this.unitOfWork = unitOfWork;
        this.probe = probe;
        this.pool = pool;
        this.transactions = transactions;
        this.deadlocks = deadlocks;
        this.constraints = constraints;
        this.longTransactions = longTransactions;
        this.guardrails = guardrails;
    }

    /** Which node takes writes and which serve reads (DB_HOSTS), as seen at the service's last look. */
    public DatabaseNodesView nodes() {
        String readTarget = guardrails.readTarget().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        double maxLag = guardrails.maxStandbyLag().toMillis() / 1000.0;
        return pool.writerStatus()
                .map(w -> new DatabaseNodesView(true, w.writer().orElse(null), readTarget, maxLag, w.splitBrain(), w.changes(), w.nodes()))
                .orElseGet(() -> new DatabaseNodesView(false, null, readTarget, maxLag, List.of(), 0, List.of()));
    }

    public Uni<DatabaseHealthView> health() {
        return probe.check()
                .onFailure().recoverWithNull()
                .map(this::view);
    }

    private DatabaseHealthView view(DatabaseProbe.Result probed) {
        Long roundTripMs = probed == null ? null : probed.roundTrip().toMillis();
        boolean readOnly = probed != null && !probed.writable();
        PoolStatistics.PoolSnapshot p = pool.snapshot();
        TransactionStatistics t = transactions.statistics();
        ContentionStatistics d = deadlocks.statistics();
        long openTooLong = longTransactions.open().stream().filter(o -> o.overThreshold()).count();

        List<String> alerts = alerts(roundTripMs, p, t, d, openTooLong, longTransactions.threshold());
        List<String> recommendations = recommendations(p, t, d);
        int connectionLimit = unitOfWork.connectionLimit();
        if (connectionLimit < guardrails.poolMaxSize()) {
            alerts.add("The database (or PgBouncer in front of it) refuses this service more than " + connectionLimit
                    + " connection(s); the pool may open " + guardrails.poolMaxSize() + " (DB_POOL_SIZE + DB_MAX_OVERFLOW). "
                    + "Requests are served on those it has. The WARN line names the SQLSTATE.");
            recommendations.add("Raise the role's or database's CONNECTION LIMIT (or max_connections, or PgBouncer's "
                    + "max_client_conn) to at least " + guardrails.poolMaxSize() + " per replica, or lower DB_POOL_SIZE + "
                    + "DB_MAX_OVERFLOW to " + connectionLimit + " divided among the replicas; for a refused login, bring the "
                    + "password (DB_PASSWORD_FILE) in line with the role.");
        }
        UnreplicatedCommits unreplicated = unitOfWork.unreplicatedCommits();
        if (unreplicated.last() != null && unreplicated.last().isAfter(Instant.now().minus(java.time.Duration.ofHours(24)))) {
            alerts.add(unreplicated.total() + " commit(s) since start were acknowledged by the primary without their "
                    + "synchronous standby (the last at " + unreplicated.last() + "): a failover could lose them. Check "
                    + "pg_stat_replication and synchronous_standby_names.");
        }
        pool.writerStatus().ifPresent(writer -> {
            if (!writer.splitBrain().isEmpty()) {
                alerts.add(0, "Split brain: " + String.join(", ", writer.splitBrain()) + " all take writes. The service "
                        + "writes to " + writer.writer().orElse("?") + " only (the newest timeline); fence the other node.");
            }
        });
        if (readOnly) {
            alerts.add(0, "The database refuses writes (read-only: a standby, a failover in progress, or "
                    + "default_transaction_read_only): writes answer 503 database-read-only, reads are served.");
        }
        String status = readOnly ? "read_only" : status(roundTripMs, t, alerts);
        return new DatabaseHealthView(
                new DatabaseHealthView.Summary(status, Instant.now(), roundTripMs != null, roundTripMs, t.breakerState()),
                new DatabaseHealthView.ConnectionPool(p.total(), p.active(), p.idle(), p.waiting(), p.utilizationPercent(),
                        p.overflow(), guardrails.poolSize(), guardrails.maxOverflow(), p.maxSize(), p.rejected()),
                new DatabaseHealthView.Performance(Math.round(t.avgDurationMs() * 100) / 100.0, t.slow24h(),
                        t.serverFailuresLastHour(), t.units24h(), longTransactions.reportedLast24h()),
                new DatabaseHealthView.Reliability(d.last24h(), d.severity().label(),
                        t.recoverySuccessRate() == null ? null : Math.round(t.recoverySuccessRate() * 1000) / 1000.0,
                        t.retried24h(), t.rollbackFailures24h(), t.savepointRollbacks24h(), constraints.last24hByKind()),
                recommendations, alerts);
    }

    /** What needs an operator now; {@code roundTripMs} is null when the probe got no answer. */
    static List<String> alerts(Long roundTripMs, PoolStatistics.PoolSnapshot p, TransactionStatistics t, ContentionStatistics d,
                               long openTooLong, Duration leakThreshold) {
        List<String> alerts = new ArrayList<>();
        if (roundTripMs == null) {
            alerts.add("PostgreSQL does not answer the probe connection.");
        }
        if (t.breaker() == CircuitBreakerState.OPEN) {
            alerts.add("The database circuit breaker is open: requests fail fast with 503.");
        }
        if (p.utilizationPercent() >= UTILIZATION_ALERT_PERCENT) {
            alerts.add("Connection pool utilization is " + p.utilizationPercent() + "% of " + p.maxSize() + " connections.");
        }
        if (p.waiting() > 0) {
            alerts.add(p.waiting() + " request(s) are waiting for a database connection.");
        }
        if (d.severity() == ContentionMonitor.Severity.HIGH) {
            alerts.add("Contention severity is high: " + d.lastHour() + " deadlocks and serialization failures in the last hour.");
        }
        if (openTooLong > 0) {
            alerts.add(openTooLong + " transaction(s) are held longer than the leak threshold ("
                    + leakThreshold.toSeconds() + " s).");
        }
        return alerts;
    }

    /** What to look at or change, from the pool now and the last 24 hours. */
    static List<String> recommendations(PoolStatistics.PoolSnapshot p, TransactionStatistics t, ContentionStatistics d) {
        List<String> recommendations = new ArrayList<>();
        if (p.rejected() > 0 || p.waiting() > 0 || p.utilizationPercent() >= UTILIZATION_ALERT_PERCENT) {
            recommendations.add("The pool is saturated: look for slow or long transactions first "
                    + "(POST /admin/database/diagnostics), then consider raising DB_MAX_OVERFLOW.");
        }
        if (t.slow24h() > 0) {
            recommendations.add(t.slow24h() + " slow transaction(s) in 24 h: check indexes and lock waits.");
        }
        if (t.rollbackFailures24h() > 0) {
            recommendations.add(t.rollbackFailures24h() + " transaction(s) lost their connection mid-way in 24 h: "
                    + "check network stability and server restarts.");
        }
        if (d.last24h() > 0) {
            recommendations.addAll(d.recommendations());
        }
        return recommendations;
    }

    /** Unhealthy when the database cannot be used at all, degraded while anything needs attention. */
    static String status(Long roundTripMs, TransactionStatistics t, List<String> alerts) {
        return roundTripMs == null || t.breaker() == CircuitBreakerState.OPEN ? "unhealthy"
                : alerts.isEmpty() ? "healthy" : "degraded";
    }

    /** Everything the monitors know, raw: pool, transactions, deadlocks, constraints, long transactions. */
    public Map<String, Object> metrics() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("connection_pool", pool.snapshot());
        out.put("transactions", transactions.statistics());
        out.put("deadlocks", deadlocks.statistics());
        out.put("constraint_violations_24h", constraints.last24hByKind());
        out.put("recent_constraint_violations", constraints.recent(20));
        out.put("long_transactions_24h", longTransactions.reportedLast24h());
        return out;
    }

    /** The pool now, its settings, and the units of work holding connections. */
    public Map<String, Object> connectionPool() {
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("pool_size", guardrails.poolSize());
        settings.put("max_overflow", guardrails.maxOverflow());
        settings.put("pool_timeout_seconds", guardrails.poolTimeout().toMillis() / 1000.0);
        settings.put("wait_queue_size", guardrails.poolWaitQueue());
        settings.put("max_connections_per_row", guardrails.maxConnectionsPerRow());
        settings.put("connection_limit_learned", unitOfWork.connectionLimit());
        settings.put("recycle_seconds", guardrails.poolRecycle().toMillis() / 1000.0);
        settings.put("leak_threshold_seconds", guardrails.leakThreshold().toMillis() / 1000.0);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("pool", pool.snapshot());
        out.put("settings", settings);
        out.put("open_transactions", longTransactions.open());
        out.put("long_transactions_24h", longTransactions.reportedLast24h());
        return out;
    }

    public ContentionStatistics deadlocks() {
        return deadlocks.statistics();
    }
}
