package dev.bastion.database;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.util.TypeLiteral;
import org.hibernate.reactive.mutiny.Mutiny;

/**
 * The gate every transactional database interaction goes through.
 * <p>
 * Each attempt opens a fresh Hibernate Reactive session and transaction, runs the work, flushes, and
 * commits. A failure is classified once ({@link FailureClassifier}); retryable kinds run the
 * <em>whole</em> unit again with exponential backoff and jitter, bounded by per-kind retry budgets
 * and a total deadline (SmallRye Fault Tolerance guard). A circuit breaker counts outages only, so a
 * dead database makes callers fail fast instead of queueing. Constraint violations are never retried.
 * <p>
 * One request deadline (DB_REQUEST_TIMEOUT) bounds pool wait, attempts and backoff. An attempt is
 * never cancelled half-way, neither by the deadline nor by a caller that hung up: cutting a reactive
 * chain in the middle would hand its connection back inside an open transaction. It runs on, and
 * its {@link CommitGate} makes it roll back instead of committing once its caller stopped waiting.
 * <p>
 * A connection that reported an outage (lost, or a read-only node behind the writer address during
 * a failover) is closed, never returned to the pool.
 * <p>
 * Work must not recover from a failure inside the transaction (that poisons the session): let it
 * fail, and map it outside.
 */
@ApplicationScoped
public class UnitOfWork {

    private static final String TERMINATE_OWN_BACKEND = "SELECT pg_terminate_backend(pg_backend_pid())";

    private final DatabaseGuardrails guardrails;
    private final TransactionListeners events;
    private final AtomicLong attemptIds = new AtomicLong();
    private final TypedGuard<Uni<Object>> guard;

    public UnitOfWork(DatabaseGuardrails guardrails, TransactionListeners events) {
        this.guardrails = guardrails;
        this.events = events;
        this.guard = TypedGuard.create(new TypeLiteral<Uni<Object>>() {
                })
                .withDescription("database unit of work")
                .withRetry()
                    .maxRetries(guardrails.maxRetries() + guardrails.deadlockRetryCount())
                    .delay(guardrails.retryBaseDelay().toMillis(), ChronoUnit.MILLIS)
                    .jitter(guardrails.retryBaseDelay().toMillis(), ChronoUnit.MILLIS)
                    .maxDuration(retryWindow(guardrails).toMillis(), ChronoUnit.MILLIS)
                    .whenException(RetryableDatabaseException.class::isInstance)
                    .withExponentialBackoff()
                        .factor(2)
                        .maxDelay(guardrails.retryMaxDelay().toMillis(), ChronoUnit.MILLIS)
                        .done()
                    .done()
                .withCircuitBreaker()
                    .name("database")
                    .when(error -> error instanceof DatabaseException e && e.kind().isOutage())
                    .requestVolumeThreshold(guardrails.breakerRequestVolume())
                    .failureRatio(guardrails.breakerFailureRatio())
                    .delay(guardrails.breakerDelay().toMillis(), ChronoUnit.MILLIS)
                    .successThreshold(1)
                    .onStateChange(events::breakerStateChanged)
                    .done()
                .build();
    }

    /** Retries never reach past the request deadline, whatever DB_RETRY_DEADLINE says. */
    private static Duration retryWindow(DatabaseGuardrails guardrails) {
        return guardrails.retryDeadline().compareTo(guardrails.requestTimeout()) < 0
                ? guardrails.retryDeadline() : guardrails.requestTimeout();
    }

    /** Runs {@code work} in a transaction described by {@code spec}; see the class comment. */
    @SuppressWarnings("unchecked")
    public <T> Uni<T> run(TransactionSpec spec, Supplier<Uni<T>> work) {
        long started = System.nanoTime();
        long deadline = started + guardrails.requestTimeout().toNanos();
        RetryBudget budget = new RetryBudget(guardrails.deadlockRetryCount(), guardrails.maxRetries(),
                retryWindow(guardrails), guardrails.retryBaseDelay(), guardrails.retryMaxDelay());
        Uni<Object> guarded = guard.get(() -> (Uni<Object>) (Uni<?>) attempt(spec, work, budget, deadline));
        return ((Uni<T>) guarded)
                .onItem().invoke(() -> events.unitSucceeded(spec.operation(), budget.attempts(), System.nanoTime() - started))
                .onFailure(FailureClassifier::isDatabaseFailure).transform(error -> {
                    DatabaseException failure = FailureClassifier.toException(error, spec.operation());
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
    private <T> Uni<T> explicitTransaction(TransactionSpec spec, Supplier<Uni<T>> work, CommitGate gate) {
        return Panache.withSession(() -> Panache.getSession().chain(session ->
                session.createNativeQuery(spec.isolation().beginStatement()).executeUpdate()
                        .invoke(() -> Savepoints.enterExplicitTransaction())
                        .chain(ignored -> runGated(work, gate))
                        .call(Panache::flush)
                        .invoke(gate::enterCommit)
                        .call(() -> session.createNativeQuery("COMMIT").executeUpdate())
                        .onFailure().call(error -> session.createNativeQuery("ROLLBACK").executeUpdate()
                                .onFailure().call(rollbackError -> {
                                    events.rollbackFailed(spec.operation(), FailureClassifier.classify(rollbackError));
                                    return closeConnection(session);
                                })
                                .onFailure().recoverWithNull()
                                .call(() -> isOutage(error) ? closeConnection(session) : Uni.createFrom().voidItem()))
                        .eventually(Savepoints::leaveExplicitTransaction)));
    }

    private <T> Uni<T> attempt(TransactionSpec spec, Supplier<Uni<T>> work, RetryBudget budget, long deadline) {
        int attempt = budget.beginAttempt();
        CommitGate gate = new CommitGate();
        long remaining = deadline - System.nanoTime();
        Uni<T> bounded;
        if (remaining <= 0) {
            gate.abandon();
            bounded = Uni.createFrom().failure(() -> deadlineExceeded(spec, gate));
        } else {
            long attemptId = attemptIds.incrementAndGet();
            events.attemptStarted(attemptId, spec.operation(), attempt);
            Uni<T> running = session(spec, work, gate).onTermination().invoke(() -> events.attemptEnded(attemptId));
            bounded = runToCompletion(running)
                    .ifNoItem().after(Duration.ofNanos(remaining)).failWith(() -> deadlineExceeded(spec, gate));
        }
        return bounded.onFailure(FailureClassifier::isDatabaseFailure).transform(error -> {
            DatabaseFailure failure = classifyAttemptFailure(spec, error, gate.commitStarted());
            boolean retry = budget.trySpend(failure.kind());
            events.attemptFailed(spec.operation(), failure, attempt, retry);
            return retry
                    ? new RetryableDatabaseException(failure, spec.operation(), error)
                    : new DatabaseException(failure, spec.operation(), error);
        });
    }

    /**
     * The attempt's own subscription, which the caller's cancellation (deadline, hung-up client)
     * does not reach: the transaction always ends with COMMIT or ROLLBACK before its connection is
     * returned, and its result is dropped when nobody waits for it any more.
     */
    private static <T> Uni<T> runToCompletion(Uni<T> attempt) {
        return Uni.createFrom().emitter(emitter -> attempt.subscribe().with(emitter::complete, emitter::fail));
    }

    /** The deadline passed during an attempt: nothing saved, unless its COMMIT was already sent. */
    private static DatabaseException deadlineExceeded(TransactionSpec spec, CommitGate gate) {
        boolean nothingSaved = gate.abandon();
        FailureKind kind = nothingSaved || spec.readOnly() ? FailureKind.DEADLINE_EXCEEDED : FailureKind.COMMIT_OUTCOME_UNKNOWN;
        return new DatabaseException(DatabaseFailure.of(kind), spec.operation(), null);
    }

    /** One fresh session for one attempt, with the transaction handling the spec asks for. */
    private <T> Uni<T> session(TransactionSpec spec, Supplier<Uni<T>> work, CommitGate gate) {
        if (spec.autocommitRead()) {
            return Panache.withSession(() -> runGated(work, gate));
        }
        if (spec.savepoints()) {
            return explicitTransaction(spec, work, gate);
        }
        // the transaction ends (and rolls back on failure) inside the session, so that a connection
        // that reported an outage can still be closed before the session hands it back
        return Panache.withSession(() -> Panache.withTransaction(() -> Panache.getSession()
                        .chain(session -> spec.isolation() == Isolation.READ_COMMITTED
                                ? Uni.createFrom().voidItem()
                                : session.createNativeQuery(spec.isolation().setStatement()).executeUpdate().replaceWithVoid())
                        .chain(ignored -> runGated(work, gate))
                        .call(Panache::flush)
                        .invoke(gate::enterCommit))
                .onFailure(UnitOfWork::isOutage).call(() -> Panache.getSession().chain(UnitOfWork::closeConnection)));
    }

    /** The work, unless the attempt was abandoned while it waited for its connection. */
    private static <T> Uni<T> runGated(Supplier<Uni<T>> work, CommitGate gate) {
        gate.ensureRunning();
        return work.get();
    }

    private static boolean isOutage(Throwable error) {
        return FailureClassifier.classify(error).kind().isOutage(); // anything unclassified is OTHER, not an outage
    }

    /**
     * Closes the session's connection for good: the pool has no eviction call, so the backend ends
     * itself and the driver drops the dead connection. Harmless on a connection that is already lost.
     */
    private static Uni<Void> closeConnection(Mutiny.Session session) {
        session.clear(); // entities of the failed work must not be flushed before this statement
        return session.createNativeQuery(TERMINATE_OWN_BACKEND).getResultList()
                .replaceWithVoid()
                .onFailure().recoverWithNull();
    }

    /** The failure of one attempt, refined by when it happened: during COMMIT, or with no clean rollback. */
    private DatabaseFailure classifyAttemptFailure(TransactionSpec spec, Throwable error, boolean commitStarted) {
        DatabaseFailure failure = FailureClassifier.classify(error);
        if (commitStarted && failure.kind() == FailureKind.CONNECTION && !spec.idempotent()) {
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
