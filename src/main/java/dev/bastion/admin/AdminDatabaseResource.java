package dev.bastion.admin;

import java.util.Map;

import dev.bastion.database.monitor.ContentionStatistics;
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

    private final OperatorReports reports;
    private final DatabaseDiagnostics diagnostics;

    public AdminDatabaseResource(OperatorReports reports, DatabaseDiagnostics diagnostics) {
        this.reports = reports;
        this.diagnostics = diagnostics;
    }

    @GET
    @Path("/health")
    public Uni<DatabaseHealthView> health() {
        return reports.health();
    }

    @GET
    @Path("/metrics")
    public Map<String, Object> metrics() {
        return reports.metrics();
    }

    @GET
    @Path("/connection-pool")
    public Map<String, Object> connectionPool() {
        return reports.connectionPool();
    }

    @GET
    @Path("/nodes")
    public DatabaseNodesView nodes() {
        return reports.nodes();
    }

    @GET
    @Path("/deadlocks")
    public ContentionStatistics deadlocks() {
        return reports.deadlocks();
    }

    @POST
    @Path("/diagnostics")
    public Uni<DatabaseDiagnostics.Report> diagnostics() {
        return diagnostics.run();
    }
}
