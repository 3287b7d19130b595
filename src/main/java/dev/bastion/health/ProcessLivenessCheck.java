package dev.bastion.health;

import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/**
 * Live while the process can answer: it deliberately ignores the database, because restarting a
 * pod cannot fix PostgreSQL and would only add a cold start to the outage.
 */
@Liveness
@ApplicationScoped
public class ProcessLivenessCheck implements AsyncHealthCheck {

    @Override
    public Uni<HealthCheckResponse> call() {
        Runtime runtime = Runtime.getRuntime();
        return Uni.createFrom().item(HealthCheckResponse.named("process").up()
                .withData("heapUsedMb", (runtime.totalMemory() - runtime.freeMemory()) / (1024 * 1024))
                .build());
    }
}
