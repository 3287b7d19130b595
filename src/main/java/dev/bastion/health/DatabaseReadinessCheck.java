package dev.bastion.health;

import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.DatabaseProbe;
import dev.bastion.database.FailureClassifier;
import dev.bastion.database.FailureKind;
import dev.bastion.database.GuardedPoolCreator;
import dev.bastion.database.TransactionListeners;
import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready when this pod can use the database: the probe connection (outside the pool, so a busy pool
 * is not an outage) connects, logs in and answers within BASTION_DB_PROBE_TIMEOUT.
 * <p>
 * What every pod shares does not make this pod unready. A read-only database still serves reads
 * (writes answer 503 database-read-only); an open circuit breaker answers callers itself, with
 * Retry-After; a server that refuses the probe a new connection because of a connection limit
 * (53300, or PgBouncer's client limit, 08P01) or the credentials (a password rotated before the Secret file followed) while the pool
 * holds connections logged in earlier still serves on those. Taking every pod out of the Service
 * for those would replace honest 503s and working reads with the ingress's own errors.
 * What goes DOWN is what this pod cannot do at all: reach the database, or log in with no session left.
 */
@Readiness
@ApplicationScoped
public class DatabaseReadinessCheck implements AsyncHealthCheck {

    private final DatabaseProbe probe;
    private final TransactionListeners transactions;
    private final GuardedPoolCreator pool;

    public DatabaseReadinessCheck(DatabaseProbe probe, TransactionListeners transactions, GuardedPoolCreator pool) {
        this.probe = probe;
        this.transactions = transactions;
        this.pool = pool;
    }

    @Override
    public Uni<HealthCheckResponse> call() {
        String breaker = transactions.breakerState().name().toLowerCase();
        return probe.check()
                .map(result -> {
                    var response = HealthCheckResponse.named("database").up()
                            .withData("roundTripMs", result.roundTrip().toMillis())
                            .withData("readOnly", !result.writable())
                            .withData("circuitBreaker", breaker);
                    pool.writerStatus().ifPresent(writer -> { // DB_HOSTS: where the service writes
                        response.withData("writer", writer.writer().orElse("none"));
                        if (!writer.readStandbys().isEmpty()) { // DB_READ_TARGET=prefer-standby
                            response.withData("readsFrom", String.join(", ", writer.readStandbys()));
                        }
                        if (!writer.splitBrain().isEmpty()) {
                            response.withData("splitBrain", String.join(", ", writer.splitBrain()));
                        }
                    });
                    return response.build();
                })
                .onFailure().recoverWithItem(error -> {
                    DatabaseFailure failure = FailureClassifier.classify(error);
                    // the probe's statement needs no privilege: a permission refused it is the CONNECT on the database
                    boolean servingOnItsConnections = (failure.kind().refusesNewConnections()
                            || failure.kind() == FailureKind.PERMISSION_DENIED) && pool.openConnections().orElse(0) > 0;
                    return HealthCheckResponse.named("database").status(servingOnItsConnections)
                            .withData("circuitBreaker", breaker)
                            .withData("error", failure.kind().problemSlug())
                            .withData("reason", reason(error, failure))
                            .build();
                });
    }

    /** What an operator reads: PostgreSQL's own message (never SQL or data) or what timed out. */
    static String reason(Throwable error, DatabaseFailure failure) {
        if (error instanceof java.util.concurrent.TimeoutException || error instanceof io.smallrye.mutiny.TimeoutException) {
            return "no answer from the database within the probe timeout (BASTION_DB_PROBE_TIMEOUT)";
        }
        String message = error.getMessage();
        String prefix = failure.sqlState() == null ? "" : "SQLSTATE " + failure.sqlState() + ": ";
        return prefix + (message == null || message.isBlank() ? error.getClass().getSimpleName() : message);
    }
}
