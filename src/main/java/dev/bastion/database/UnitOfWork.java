package dev.bastion.database;

import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import dev.bastion.database.monitor.LongTransactionDetector;
import dev.bastion.database.monitor.TransactionEvents;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.util.TypeLiteral;
import org.eclipse.microprofile.faulttolerance.exceptions.TimeoutException;

/**
 * The gate every transactional database interaction goes through.
 * <p>
 * Each attempt opens a fresh Hibernate Reactive session and transaction, runs the work, flushes, and
 * commits. A failure is classified once ({@link FailureClassifier}); retryable kinds run the
 * <em>whole</em> unit again with exponential backoff and jitter, bounded by per-kind retry budgets
 * and a total deadline (SmallRye Fault Tolerance guard). A circuit breaker counts outages only, so a
 * dead database makes callers fail fast instead of queueing. Constraint violations are never retried.
 * <p>
 * Work must not recover from a failure inside the transaction (that poisons the session): let it
 * fail, and map it outside.
 */
@ApplicationScoped
public class UnitOfWork {

    private final DatabaseGuardrails guardrails;
    private final TransactionEvents events;
    private final LongTransactionDetector longTransactions;
    private final TypedGuard<Uni<Object>> guard;

    public UnitOfWork(DatabaseGuardrails guardrails, TransactionEvents events, LongTransactionDetector longTransactions) {
        this.guardrails = guardrails;
        this.events = events;
        this.longTransactions = longTransactions;
        this.guard = TypedGuard.create(new TypeLiteral<Uni<Object>>() {
                })
                .withDescription("database unit of work")
                .withRetry()
                    .maxRetries(guardrails.maxRetries() + guardrails.deadlockRetryCount())
                    .delay(DatabaseGuardrails.millis(guardrails.retryBaseDelay()), ChronoUnit.MILLIS)
                    .jitter(DatabaseGuardrails.millis(guardrails.retryBaseDelay()), ChronoUnit.MILLIS)
                    .maxDuration(DatabaseGuardrails.millis(guardrails.retryDeadline()), ChronoUnit.MILLIS)
                    .whenException(RetryableDatabaseException.class::isInstance)
                    .withExponentialBackoff()
                        .factor(2)
                        .maxDelay(DatabaseGuardrails.millis(guardrails.retryMaxDelay()), ChronoUnit.MILLIS)
                        .done()
                    .done()
                .withCircuitBreaker()
                    .name("database")
                    .when(error -> error instanceof DatabaseException e && e.kind().isOutage())
                    .requestVolumeThreshold(guardrails.breakerRequestVolume())
                    .failureRatio(guardrails.breakerFailureRatio())
                    .delay(DatabaseGuardrails.millis(guardrails.breakerDelay()), ChronoUnit.MILLIS)
                    .successThreshold(1)
                    .onStateChange(events::breakerStateChanged)
                    .done()
                .withTimeout()
                    .duration(DatabaseGuardrails.millis(guardrails.sessionTimeout()), ChronoUnit.MILLIS)
                    .done()
                .build();
    }

    /** Runs {@code work} in a transaction described by {@code spec}; see the class comment. */
    @SuppressWarnings("unchecked")
    public <T> Uni<T> run(TransactionSpec spec, Supplier<Uni<T>> work) {
        RetryBudget budget = new RetryBudget(guardrails.deadlockRetryCount(), guardrails.maxRetries(),
                DatabaseGuardrails.seconds(guardrails.retryDeadline()));
        long started = System.nanoTime();
        Uni<Object> guarded = guard.get(() -> (Uni<Object>) (Uni<?>) attempt(spec, work, budget));
        return ((Uni<T>) guarded)
                .onItem().invoke(() -> events.unitSucceeded(spec.operation(), budget.attempts(), System.nanoTime() - started))
                .onFailure(FailureClassifier::isDatabaseFailure).transform(error -> {
                    DatabaseException failure = FailureClassifier.toException(error, spec.operation());
                    if (error instanceof TimeoutException && !spec.idempotent() && !spec.readOnly()) {
                        // the guard stopped waiting, but the abandoned attempt may still commit
                        failure = new DatabaseException(failure.failure().withKind(FailureKind.COMMIT_OUTCOME_UNKNOWN),
                                spec.operation(), error);
                    }
                    events.unitFailed(spec.operation(), failure.failure(), budget.attempts(), System.nanoTime() - started);
                    // callers see a plain DatabaseException: the retryable marker means nothing past the guard
                    return failure instanceof RetryableDatabaseException
                            ? new DatabaseException(failure.failure(), spec.operation(), failure.getCause())
                            : failure;
                });
    }

    /**
     * A transaction managed with plain BEGIN/COMMIT/ROLLBACK statements on the session's connection.
     * The driver's own transactions roll back on the first failed statement, which would make
     * ROLLBACK TO SAVEPOINT impossible; units with nested steps therefore manage theirs here.
     * If ROLLBACK fails on a connection that still answers, the connection terminates its own
     * backend so that the pool can never hand out a connection stuck in a transaction.
     */
    private <T> Uni<T> explicitTransaction(TransactionSpec spec, Supplier<Uni<T>> work, AtomicBoolean reachedCommit) {
        return Panache.withSession(() -> Panache.getSession().chain(session ->
                session.createNativeQuery(spec.isolation().beginStatement()).executeUpdate()
                        .invoke(() -> Savepoints.enterExplicitTransaction())
                        .chain(ignored -> work.get())
                        .call(Panache::flush)
                        .invoke(() -> reachedCommit.set(true))
                        .call(() -> session.createNativeQuery("COMMIT").executeUpdate())
                        .onFailure().call(error -> session.createNativeQuery("ROLLBACK").executeUpdate()
                                .onFailure().call(rollbackError -> {
                                    events.rollbackFailed(spec.operation(), FailureClassifier.classify(rollbackError));
                                    return session.createNativeQuery("SELECT pg_terminate_backend(pg_backend_pid())")
                                            .executeUpdate().onFailure().recoverWithNull();
                                })
                                .onFailure().recoverWithNull())
                        .eventually(Savepoints::leaveExplicitTransaction)));
    }

    private <T> Uni<T> attempt(TransactionSpec spec, Supplier<Uni<T>> work, RetryBudget budget) {
        int attempt = budget.beginAttempt();
        long tracked = longTransactions.started(spec.operation(), attempt);
        // Set once the work and its flush succeeded: a connection lost after that was lost during COMMIT.
        AtomicBoolean reachedCommit = new AtomicBoolean();
        return session(spec, work, reachedCommit)
                .onTermination().invoke(() -> longTransactions.finished(tracked))
                .onFailure(FailureClassifier::isDatabaseFailure).transform(error -> {
                    DatabaseFailure failure = classifyAttemptFailure(spec, error, reachedCommit.get());
                    boolean retry = budget.trySpend(failure.kind());
                    events.attemptFailed(spec.operation(), failure, attempt, retry);
                    return retry
                            ? new RetryableDatabaseException(failure, spec.operation(), error)
                            : new DatabaseException(failure, spec.operation(), error);
                });
    }

    /** One fresh session for one attempt, with the transaction handling the spec asks for. */
    private <T> Uni<T> session(TransactionSpec spec, Supplier<Uni<T>> work, AtomicBoolean reachedCommit) {
        if (spec.autocommitRead()) {
            return Panache.withSession(work);
        }
        if (spec.savepoints()) {
            return explicitTransaction(spec, work, reachedCommit);
        }
        return Panache.withTransaction(() -> Panache.getSession()
                .chain(session -> spec.isolation() == Isolation.READ_COMMITTED
                        ? Uni.createFrom().voidItem()
                        : session.createNativeQuery(spec.isolation().setStatement()).executeUpdate().replaceWithVoid())
                .chain(ignored -> work.get())
                .call(Panache::flush)
                .invoke(() -> reachedCommit.set(true)));
    }

    /** The failure of one attempt, refined by when it happened: during COMMIT, or with no clean rollback. */
    private DatabaseFailure classifyAttemptFailure(TransactionSpec spec, Throwable error, boolean reachedCommit) {
        DatabaseFailure failure = FailureClassifier.classify(error);
        if (reachedCommit && failure.kind() == FailureKind.CONNECTION && !spec.idempotent()) {
            return failure.withKind(FailureKind.COMMIT_OUTCOME_UNKNOWN);
        }
        boolean inTransaction = !spec.autocommitRead();
        if (inTransaction && (failure.kind() == FailureKind.CONNECTION || FailureClassifier.rollbackFailed(error))) {
            // The rollback could not run on this connection. PostgreSQL rolls back a dead session
            // itself, and the pool never hands out a closed connection again.
            events.rollbackFailed(spec.operation(), failure);
            if (!failure.kind().retryable()) {
                return failure.withKind(FailureKind.ROLLBACK_FAILED);
            }
        }
        return failure;
    }
}
