package dev.bastion.health;

import dev.bastion.database.DatabaseProbe;
import dev.bastion.database.TransactionListeners;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready when PostgreSQL answers over the probe connection, can take writes (not a standby still in
 * recovery, not read-only: during a failover the writer address may point at one for seconds), and
 * the circuit breaker is not open. A busy pool does not make the service unready: the probe does
 * not use the pool.
 */
@Readiness
@ApplicationScoped
public class DatabaseReadinessCheck implements AsyncHealthCheck {

    private final DatabaseProbe probe;
    private final TransactionListeners transactions;

    public DatabaseReadinessCheck(DatabaseProbe probe, TransactionListeners transactions) {
        this.probe = probe;
        this.transactions = transactions;
    }

    @Override
    public Uni<HealthCheckResponse> call() {
        CircuitBreakerState breaker = transactions.breakerState();
        if (breaker == CircuitBreakerState.OPEN) {
            return Uni.createFrom().item(HealthCheckResponse.named("database").down()
                    .withData("circuitBreaker", "open").build());
        }
        return probe.check()
                .map(result -> HealthCheckResponse.named("database").status(result.writable())
                        .withData("roundTripMs", result.roundTrip().toMillis())
                        .withData("readOnly", !result.writable())
                        .withData("circuitBreaker", breaker.name().toLowerCase())
                        .build())
                .onFailure().recoverWithItem(error -> HealthCheckResponse.named("database").down()
                        .withData("circuitBreaker", breaker.name().toLowerCase())
                        .withData("error", error.getClass().getSimpleName())
                        .build());
    }
}
