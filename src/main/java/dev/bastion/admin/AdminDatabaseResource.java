package dev.bastion.admin;

import java.util.LinkedHashMap;
import java.util.Map;

import dev.bastion.database.DatabaseGuardrails;
import dev.bastion.database.monitor.ConstraintMonitor;
import dev.bastion.database.monitor.DeadlockMonitor;
import dev.bastion.database.monitor.DeadlockStatistics;
import dev.bastion.database.monitor.LongTransactionDetector;
import dev.bastion.database.monitor.PoolStatistics;
import dev.bastion.database.monitor.TransactionEvents;
import io.smallrye.mutiny.Uni;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/**
 * The operators' view of the database guardrails. Bearer JWT with group {@code admin} required
 * (MicroProfile JWT: MP_JWT_VERIFY_PUBLICKEY_LOCATION, MP_JWT_VERIFY_ISSUER). Read-only: nothing
 * here changes how requests are served.
 */
@Path("/admin/database")
@Produces(MediaType.APPLICATION_JSON)
@RolesAllowed("admin")
public class AdminDatabaseResource {

    private final DatabaseHealthReport health;
    private final DatabaseDiagnostics diagnostics;
    private final PoolStatistics pool;
    private final TransactionEvents transactions;
    private final DeadlockMonitor deadlocks;
    private final ConstraintMonitor constraints;
    private final LongTransactionDetector longTransactions;
    private final DatabaseGuardrails guardrails;

    public AdminDatabaseResource(DatabaseHealthReport health, DatabaseDiagnostics diagnostics, PoolStatistics pool,
                                 TransactionEvents transactions, DeadlockMonitor deadlocks, ConstraintMonitor constraints,
                                 LongTransactionDetector longTransactions, DatabaseGuardrails guardrails) {
        this.health = health;
        this.diagnostics = diagnostics;
        this.pool = pool;
        this.transactions = transactions;
        this.deadlocks = deadlocks;
        this.constraints = constraints;
        this.longTransactions = longTransactions;
        this.guardrails = guardrails;
    }

    @GET
    @Path("/health")
    public Uni<DatabaseHealthView> health() {
        return health.build();
    }

    @GET
    @Path("/metrics")
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

    @GET
    @Path("/connection-pool")
    public Map<String, Object> connectionPool() {
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("pool_size", guardrails.poolSize());
        settings.put("max_overflow", guardrails.maxOverflow());
        settings.put("pool_timeout_seconds", guardrails.poolTimeout());
        settings.put("wait_queue_size", guardrails.poolWaitQueue());
        settings.put("recycle_seconds", guardrails.poolRecycle());
        settings.put("leak_threshold_seconds", guardrails.leakThreshold());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("pool", pool.snapshot());
        out.put("settings", settings);
        out.put("open_transactions", longTransactions.open());
        out.put("long_transactions_24h", longTransactions.reportedLast24h());
        return out;
    }

    @GET
    @Path("/deadlocks")
    public DeadlockStatistics deadlocks() {
        return deadlocks.statistics();
    }

    @POST
    @Path("/diagnostics")
    public Uni<DatabaseDiagnostics.Report> diagnostics() {
        return diagnostics.run();
    }
}
