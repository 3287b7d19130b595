package dev.bastion.health;

import dev.bastion.database.FailureClassifier;
import dev.bastion.schema.SchemaCurrent;
import dev.bastion.schema.ShippedMigrations;
import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * A pod that does not migrate (DB_MIGRATE_AT_START=false) is not ready until the migration Job of its
 * release has brought the schema to what it needs: the old pods keep the traffic meanwhile. Until the
 * schema was once seen current, a question that got no answer (the database down, Flyway's history
 * table locked past BASTION_DB_PROBE_TIMEOUT, no SELECT on it for the serving role) leaves the pod
 * unready, with the reason: it does not know that it can serve.
 */
@Readiness
@ApplicationScoped
public class SchemaReadinessCheck implements AsyncHealthCheck {

    private final SchemaCurrent schema;

    public SchemaReadinessCheck(SchemaCurrent schema) {
        this.schema = schema;
    }

    @Override
    public Uni<HealthCheckResponse> call() {
        return schema.behind()
                .map(behind -> behind.isEmpty()
                        ? HealthCheckResponse.named("schema").up().build()
                        : HealthCheckResponse.named("schema").down()
                                .withData("appliedMigration", behind.getAsInt())
                                .withData("neededMigration", ShippedMigrations.latestVersion())
                                .withData("reason", "waiting for the schema migration (the migration Job of this release; "
                                        + "DB_MIGRATE_AT_START=false here)")
                                .build())
                .onFailure().recoverWithItem(error -> HealthCheckResponse.named("schema").down()
                        .withData("neededMigration", ShippedMigrations.latestVersion())
                        .withData("reason", "the schema's version could not be read from flyway_schema_history: "
                                + DatabaseReadinessCheck.reason(error, FailureClassifier.classify(error)))
                        .build());
    }
}
