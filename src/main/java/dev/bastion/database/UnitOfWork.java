package dev.bastion.database;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;

import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.util.TypeLiteral;
import org.hibernate.reactive.mutiny.Mutiny;

/**
 * The gate every transactional database interaction goes through.
 * <p>
 * Each attempt opens a fresh Hibernate Reactive session and transaction, runs the work, flushes, and
 * commits; or, for work that is a single statement ({@link #runStatement}), borrows a pooled
 * connection and sends that one statement in autocommit, one round trip. A failure is classified once ({@link FailureClassifier}); retryable kinds run the
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

    private final DatabaseSettings guardrails;
    private final TransactionListeners events;
    private final Pool pool;
    private final Vertx vertx;
    private final Duration retryWindow; // fixed by the settings: worked out once, not per unit of work
    private final AtomicLong attemptIds = new AtomicLong();
    private final TypedGuard<Uni<Object>> guard;

    public UnitOfWork(DatabaseSettings guardrails, TransactionListeners events, Pool pool, Vertx vertx) {
        this.guardrails = guardrails;
        this.events = events;
        this.pool = pool; // the pool Hibernate Reactive uses too (GuardedPoolCreator): one set of limits
        this.vertx = vertx;
        this.retryWindow = retryWindow(guardrails);
        this.guard = TypedGuard.create(new TypeLiteral<Uni<Object>>() {
                })
                .withDescription("database unit of work")
                .withRetry()
                    .maxRetries(guardrails.maxRetries() + guardrails.deadlockRetryCount())
                    .delay(guardrails.retryBaseDelay().toMillis(), ChronoUnit.MILLIS)
                    .jitter(guardrails.retryBaseDelay().toMillis(), ChronoUnit.MILLIS)
                    .maxDuration(retryWindow.toMillis(), ChronoUnit.MILLIS)
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
    private static Duration retryWindow(DatabaseSettings guardrails) {
        return guardrails.retryDeadline().compareTo(guardrails.requestTimeout()) < 0
                ? guardrails.retryDeadline() : guardrails.requestTimeout();
    }

    /** Runs {@code work} in a transaction described by {@code spec}; see the class comment. */
    public <T> Uni<T> run(TransactionSpec spec, Supplier<Uni<T>> work) {
        return guarded(spec, !spec.autocommitRead(), gate -> session(spec, work, gate));
    }

    /**
     * Runs work that is exactly one SQL statement on a pooled connection, in autocommit: no session,
     * no BEGIN/COMMIT, since PostgreSQL makes a single statement atomic on its own. Same retry,
     * breaker, deadline and monitors as {@link #run}. A write's statement is its own commit, so the
     * gate counts it as committing from the moment it is sent: a connection lost before its answer
     * leaves the outcome unknown, and a request deadline that passed earlier keeps it from being sent.
     * A read that explains the statement's result (why an UPDATE matched no row) may follow it on the
     * same connection: it changes nothing and stays within the same deadline.
     */
    public <T> Uni<T> runStatement(TransactionSpec spec, Function<SqlConnection, Uni<T>> statement) {
        if (spec.savepoints() || spec.isolation() != Isolation.READ_COMMITTED) {
            throw new IllegalArgumentException(spec.operation() + ": a single statement runs at READ COMMITTED, without savepoints");
        }
        return guarded(spec, false, gate -> pool.withConnection(connection -> {
            if (spec.readOnly()) {
                gate.ensureRunning();
            } else {
                gate.enterCommit();
            }
            return statement.apply(connection)
                    .onFailure(UnitOfWork::isOutage).call(() -> terminateBackend(connection));
        }));
    }

    @SuppressWarnings("unchecked")
    private <T> Uni<T> guarded(TransactionSpec spec, boolean transactionBlock, Function<CommitGate, Uni<T>> attempt) {
        long started = System.nanoTime();
        long deadline = started + guardrails.requestTimeout().toNanos();
        RetryBudget budget = new RetryBudget(guardrails.deadlockRetryCount(), guardrails.maxRetries(),
                retryWindow, guardrails.retryBaseDelay(), guardrails.retryMaxDelay());
        Uni<Object> guarded = guard.get(() -> (Uni<Object>) (Uni<?>) attempt(spec, transactionBlock, attempt, budget, deadline));
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

    private <T> Uni<T> attempt(TransactionSpec spec, boolean transactionBlock, Function<CommitGate, Uni<T>> work,
                               RetryBudget budget, long deadline) {
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
            Uni<T> running = work.apply(gate).onTermination().invoke(() -> events.attemptEnded(attemptId));
            bounded = runToCompletion(running, remaining, () -> deadlineExceeded(spec, gate));
        }
        return bounded.onFailure(FailureClassifier::isDatabaseFailure).transform(error -> {
            DatabaseFailure failure = classifyAttemptFailure(spec, transactionBlock, error, gate.commitStarted());
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
     * returned, and its result is dropped when nobody waits for it any more. The caller stops
     * waiting after {@code remainingNanos}. The deadline is a Vert.x timer on the event loop,
     * cancelled as soon as the attempt ends: Mutiny's {@code ifNoItem()} would queue every attempt's
     * timeout in one shared scheduler that keeps cancelled tasks (and the request they reference)
     * until they would have fired, 30 s later by default.
     */
    private <T> Uni<T> runToCompletion(Uni<T> attempt, long remainingNanos, Supplier<DatabaseException> deadlineExceeded) {
        return Uni.createFrom().emitter(emitter -> {
            long timer = vertx.setTimer(Math.max(1, TimeUnit.NANOSECONDS.toMillis(remainingNanos)),
                    fired -> emitter.fail(deadlineExceeded.get()));
            attempt.subscribe().with(item -> {
                vertx.cancelTimer(timer);
                emitter.complete(item);
            }, failure -> {
                vertx.cancelTimer(timer);
                emitter.fail(failure);
            });
        });
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

    /** {@link #closeConnection} for a connection borrowed without a session. */
    private static Uni<Void> terminateBackend(SqlConnection connection) {
        return connection.query(TERMINATE_OWN_BACKEND).execute()
                .replaceWithVoid()
                .onFailure().recoverWithNull();
    }

    /** The failure of one attempt, refined by when it happened: during COMMIT, or with no clean rollback. */
    private DatabaseFailure classifyAttemptFailure(TransactionSpec spec, boolean transactionBlock, Throwable error,
                                                   boolean commitStarted) {
        AttemptFailure failure = AttemptFailure.of(spec, transactionBlock, error, commitStarted);
        if (failure.rollbackFailed()) {
            events.rollbackFailed(spec.operation(), failure.classified());
        }
        return failure.reported();
    }
}
