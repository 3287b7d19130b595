package dev.bastion.database;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;

import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnection;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.util.TypeLiteral;
import jakarta.inject.Singleton;
import org.hibernate.reactive.mutiny.Mutiny;

/**
 * The gate every transactional database interaction goes through.
 * <p>
 * Each attempt opens a fresh Hibernate Reactive session and transaction, runs the work, flushes, and
 * commits; or, for work that is a single statement ({@link #runStatement}), borrows a pooled
 * connection and sends that one statement in autocommit, one round trip. A failure is classified once ({@link FailureClassifier}); retryable kinds run the
 * <em>whole</em> unit again with exponential backoff and jitter, bounded by per-kind retry budgets
 * and a total deadline. A circuit breaker (SmallRye Fault Tolerance) around the whole unit counts the
 * units that failed with an outage, so a dead database makes callers fail fast instead of queueing. Constraint violations are never retried.
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
@Singleton
public class UnitOfWork {

    private static final String TERMINATE_OWN_BACKEND = "SELECT pg_terminate_backend(pg_backend_pid())";

    /**
     * The request's deadline inside PostgreSQL: the transaction's statement_timeout becomes what the
     * request has left (capped by DB_COMMAND_TIMEOUT), unless the server's own setting for this role
     * or database is stricter, which is kept. Transaction-scoped (is_local), so nothing outlives the
     * transaction, also behind PgBouncer in transaction mode. Answers one row when the limit now in
     * force is stricter than :ms (the server's own), none when it is ours.
     */
    static final String DEADLINE_IN_TRANSACTION = "SELECT 1 FROM (SELECT CAST(EXTRACT(epoch FROM CAST(set_config('statement_timeout', "
            + "CAST(LEAST(CAST(:ms AS bigint), COALESCE(NULLIF(CAST(EXTRACT(epoch FROM CAST(current_setting('statement_timeout') "
            + "AS interval)) * 1000 AS bigint), 0), CAST(:ms AS bigint))) AS text), true) AS interval)) * 1000 AS bigint) AS in_force) "
            + "applied WHERE in_force < CAST(:ms AS bigint)";

    /**
     * How long an attempt whose COMMIT (or autocommit write) was already sent may still answer after
     * the deadline, once the cancel request went out: its real outcome is worth a short wait, since
     * the alternative is telling the caller "outcome unknown".
     */
    private static final long COMMIT_GRACE_MILLIS = 1000;

    private final DatabaseSettings guardrails;
    private final TransactionListeners events;
    private final Pool pool;
    private final Vertx vertx;
    private final RetryPolicy retryPolicy; // fixed by the settings: worked out once, not per unit of work
    private final AtomicLong attemptIds = new AtomicLong();
    private final TypedGuard<Uni<Object>> guard;
    private final RowConcurrency rows;
    private final RetryTokens retryTokens = new RetryTokens();
    private final PoolAdmission admission;
    private final GuardedPoolCreator poolCreator;
    private volatile Optional<Pool> readPool; // null until first looked up
    private final UnreplicatedCommits unreplicatedCommits;
    private final DeadlineTimers deadlines;

    @jakarta.inject.Inject
    public UnitOfWork(DatabaseSettings guardrails, TransactionListeners events, Pool pool, Vertx vertx,
                      GuardedPoolCreator poolCreator) {
        this(guardrails, events, pool, vertx, poolCreator, "database");
    }

    /** A unit of work with settings of its own (tests of setting combinations); {@code breakerName} must be unique. */
    UnitOfWork(DatabaseSettings guardrails, TransactionListeners events, Pool pool, Vertx vertx,
               GuardedPoolCreator poolCreator, String breakerName) {
        this.guardrails = guardrails;
        this.events = events;
        this.pool = pool; // the pool Hibernate Reactive uses too (GuardedPoolCreator): one set of limits
        this.vertx = vertx;
        this.deadlines = new DeadlineTimers(vertx);
        this.retryPolicy = RetryPolicy.of(guardrails);
        this.rows = new RowConcurrency(guardrails.maxConnectionsPerRow(), guardrails.poolWaitQueue());
        this.admission = new PoolAdmission(vertx, guardrails.poolMaxSize(), guardrails.poolWaitQueue(),
                guardrails.poolTimeout().toNanos(), poolCreator::serverCapsConnections,
                () -> poolCreator.openConnections().orElse(0));
        this.poolCreator = poolCreator;
        this.unreplicatedCommits = poolCreator.unreplicatedCommits();
        // with DB_HOSTS: the failures the breaker counted were the old node's; the new one starts with a clean slate
        poolCreator.onTargetChanged(() -> resetBreaker(breakerName, events));
        // the breaker around the whole unit, its retries inside (untilDone): it counts what the caller got. A
        // pooled connection found dead (a DBA ended the sessions) that the retry on a fresh one makes good is
        // no outage; counted attempt by attempt, a pool of them opened the breaker on a database that was fine
        this.guard = TypedGuard.create(new TypeLiteral<Uni<Object>>() {
                })
                .withDescription("database unit of work")
                .withCircuitBreaker()
                    .name(breakerName)
                    .when(error -> error instanceof DatabaseException e && e.kind().countsTowardBreaker())
                    .requestVolumeThreshold(guardrails.breakerRequestVolume())
                    .failureRatio(guardrails.breakerFailureRatio())
                    .delay(guardrails.breakerDelay().toMillis(), ChronoUnit.MILLIS)
                    .successThreshold(1)
                    .onStateChange(events::breakerStateChanged)
                    .done()
                .build();
    }

    private static void resetBreaker(String name, TransactionListeners events) {
        try {
            io.smallrye.faulttolerance.api.CircuitBreakerMaintenance.get().reset(name);
        } catch (RuntimeException notYetUsed) {
            return; // a breaker that has not guarded anything yet has nothing to reset
        }
        events.breakerStateChanged(io.smallrye.faulttolerance.api.CircuitBreakerState.CLOSED); // a reset tells no listener
    }

    /**
     * How many attempts may hold a connection at once: the pool's size, or fewer while PostgreSQL
     * refuses this service more connections (learned from a refused new connection: 53300, or a login
     * refused while others are logged in; see {@link PoolAdmission}).
     */
    public int connectionLimit() {
        return admission.limit();
    }

    /** Commits acknowledged without their synchronous standby (see {@link UnreplicatedCommits}). */
    public UnreplicatedCommits unreplicatedCommits() {
        return unreplicatedCommits;
    }

    /**
     * A request arriving, before its route runs (see {@link PoolAdmission#arrive}): goes in now, or
     * waits at the door and goes in (or is refused) later. Returns the Retry-After in milliseconds to
     * refuse it with now, before any work, or -1 when it went in or waits.
     */
    public long arrive(boolean read, DoorRequest request) {
        long arrival = admission.arrive(guardrails.requestTimeout().toNanos(), PoolAdmission.Lane.of(read), request);
        if (arrival == PoolAdmission.PASS) {
            request.goIn();
        }
        return Math.max(-1, arrival);
    }

    /**
     * A caller that waited at the door was answered: true when its connection is parked, its next
     * request not to be read until {@code resume} runs (see {@link PoolAdmission#park}).
     */
    public boolean park(boolean read, Runnable resume) {
        return admission.park(guardrails.requestTimeout().toNanos(), PoolAdmission.Lane.of(read), resume);
    }

    /** The service is stopping: nobody is parked any more, those parked are resumed. */
    public void stopParking() {
        admission.stopParking();
    }

    /** Retries not run because the service's retry budget across requests was spent (see {@link RetryTokens}). */
    public long retriesOverBudget() {
        return retryTokens.refused();
    }

    /** New connections refused for the service's login while the pool served on the ones it had (see {@link PoolAdmission}). */
    public long loginsRefused() {
        return admission.loginsRefused();
    }

    /** Requests refused before any work (on arrival, or at the door) because the pool could not serve them in time. */
    public long readsRiddenAlong() {
        return admission.readsRiddenAlong();
    }

    public long refusedOnArrival() {
        return admission.refusedOnArrival();
    }

    /** Attempts waiting, without a connection, for the pool's admission (inside it or at its door). */
    public int admissionWaiters() {
        return admission.waiters();
    }

    /**
     * Requests that wait for the database without a connection of their own: for a place in the pool
     * (inside the admission or at its door), for a turn on a hot row, or for the statement of the read
     * they ride along with. They hold no core while they wait.
     */
    public int waitingForDatabase() {
        return admission.waiters() + admission.riding() + rows.waiting();
    }

    /** HTTP connections parked outside the admission's door: their next request is left unread while it is full. */
    public int admissionParked() {
        return admission.parked();
    }

    /** Seconds HTTP connections have spent parked, summed: what the service's request timings leave out. */
    public double admissionParkedSeconds() {
        return admission.parkedSeconds();
    }

    /** Write attempts waiting, without a connection, for a turn on a row others are writing (DB_MAX_CONNECTIONS_PER_ROW). */
    public int rowWaiters() {
        return rows.waiting();
    }

    /** Runs {@code work} in a transaction described by {@code spec}; see the class comment. */
    public <T> Uni<T> run(TransactionSpec spec, Supplier<Uni<T>> work) {
        return guarded(spec, true, null, gate -> session(spec, work, gate));
    }

    /**
     * Runs work that is exactly one SQL statement on a pooled connection, in autocommit: no session,
     * no BEGIN/COMMIT, since PostgreSQL makes a single statement atomic on its own. Same retry,
     * breaker, deadline and monitors as {@link #run}; at the deadline a cancel request stops the
     * statement inside PostgreSQL. A write's statement is its own commit, so the
     * gate counts it as committing from the moment it is sent: a connection lost before its answer
     * leaves the outcome unknown, and a request deadline that passed earlier keeps it from being sent.
     * A read that explains the statement's result (why an UPDATE matched no row) may follow it on the
     * same connection: it changes nothing and stays within the same deadline. So may a read's further
     * reads (a page and its total): each is its own snapshot, as at READ COMMITTED in a transaction.
     */
    public <T> Uni<T> runStatement(TransactionSpec spec, Function<SqlConnection, Uni<T>> statement) {
        if (spec.savepoints() || spec.isolation() != Isolation.READ_COMMITTED) {
            throw new IllegalArgumentException(spec.operation() + ": a single statement runs at READ COMMITTED, without savepoints");
        }
        Pool standbys = spec.standby() ? readPool() : null;
        if (standbys != null) {
            // DB_READ_TARGET=prefer-standby: a standby may not have replayed a write acknowledged a moment ago,
            // so a read that finds nothing there asks the writer before answering "not found"
            Function<SqlConnection, Uni<T>> onStandby = spec.readAfter() == null ? statement
                    : connection -> connection.preparedQuery(WrittenPosition.REPLAYED).execute(Tuple.of(spec.readAfter()))
                            .chain(replayed -> Boolean.TRUE.equals(replayed.iterator().next().getBoolean(0))
                                    ? statement.apply(connection)
                                    : Uni.createFrom().<T>nullItem()); // not there yet: the writer answers
            return statementOn(standbys, spec, onStandby)
                    .chain(found -> found != null ? Uni.createFrom().item(found) : statementOn(pool, spec, statement));
        }
        return statementOn(pool, spec, statement);
    }

    /**
     * A read of one key, as {@link #runStatement}, that may share its statement with the reads of
     * {@code reads} queued for the pool with it ({@link SharedReads}): each gets its own answer, its own
     * deadline and breaker call; a read that rode along holds no connection. A leader whose statement
     * does not answer (it failed, the leader's deadline passed) keeps its failure and sends its riders
     * back to the head of the queue ({@link PoolAdmission#endRiders}). Reads that go to standbys or must
     * see a written position ({@link TransactionSpec#readAfter}) run alone.
     */
    @SuppressWarnings("unchecked")
    public <K, T> Uni<T> readShared(TransactionSpec spec, SharedReads<K, T> reads, K key) {
        if (spec.readAfter() != null || spec.standby() && readPool() != null || !spec.readOnly()) {
            return runStatement(spec, connection -> reads.one(connection, key));
        }
        PoolAdmission.SharedTurn turn = new PoolAdmission.SharedTurn(reads, key, reads.most());
        return guarded(spec, false, turn, gate -> onConnection(pool, spec, gate, connection -> {
            if (!turn.hasRiders()) {
                return reads.one(connection, key);
            }
            return reads.many(connection, turn.keys()).map(found -> {
                admission.answerRiders(turn, found);
                return found.get(key);
            });
        }));
    }

    /**
     * With reads on standbys (DB_READ_TARGET=prefer-standby): the writer's WAL position now, at or
     * past every commit acknowledged so far, for the caller to send back on its next read
     * ({@link WrittenPosition}); null otherwise, or when the writer does not tell within a second.
     */
    /** Whether reads by id may go to standbys (DB_READ_TARGET=prefer-standby with DB_HOSTS). */
    public boolean readsOnStandbys() {
        return readPool() != null;
    }

    public Uni<String> writtenPosition() {
        if (readPool() == null) {
            return Uni.createFrom().nullItem();
        }
        return pool.query(WrittenPosition.WRITER_POSITION).execute()
                .map(rows -> rows.iterator().next().getString(0))
                .ifNoItem().after(java.time.Duration.ofSeconds(1)).recoverWithItem((String) null)
                .onFailure().recoverWithNull();
    }

    /**
     * The pool of reads by id on standbys (DB_READ_TARGET=prefer-standby with DB_HOSTS), or null:
     * looked up once (both pools exist before the first unit of work), not on every read.
     */
    private Pool readPool() {
        Optional<Pool> reads = readPool;
        if (reads == null) {
            reads = poolCreator.readPool().map(Pool::newInstance);
            readPool = reads;
        }
        return reads.orElse(null);
    }

    private <T> Uni<T> statementOn(Pool on, TransactionSpec spec, Function<SqlConnection, Uni<T>> statement) {
        return guarded(spec, false, null, gate -> onConnection(on, spec, gate, statement));
    }

    /** One attempt of a single statement on a connection borrowed from {@code on}. */
    private <T> Uni<T> onConnection(Pool on, TransactionSpec spec, CommitGate gate, Function<SqlConnection, Uni<T>> statement) {
        // the connection is back in the pool before the attempt ends (and frees its admission), unlike with
        // Pool.withConnection: the next admitted attempt must find it idle, not open one more
        return connection(on).chain(connection -> Uni.createFrom().deferred(() -> {
            if (spec.readOnly()) {
                gate.ensureRunning();
            } else {
                gate.enterCommit();
            }
            // autocommit has no transaction to carry a statement_timeout: the deadline cancels it instead
            PgConnection pg = PgConnection.cast(connection.getDelegate());
            gate.onDeadlineCancel(pg::cancelRequest);
            pg.noticeHandler(notice -> { // this statement's own commit, if its synchronous standby wait is cancelled
                unreplicatedCommits.notice(notice);
                if (UnreplicatedCommits.isCancelledSyncWait(notice)) {
                    gate.notDurable();
                }
            });
            return statement.apply(connection)
                    .invoke(() -> {
                        if (gate.isNotDurable()) {
                            throw new DatabaseException(DatabaseFailure.of(FailureKind.COMMIT_OUTCOME_UNKNOWN), spec.operation(),
                                    null); // committed on the primary only: a failover would lose it
                        }
                    })
                    .onTermination().invoke(gate::statementFinished)
                    .onFailure(UnitOfWork::discardsConnection).call(() -> terminateBackend(connection));
        }).eventually(() -> connection.close().onFailure().recoverWithNull()));
    }

    /**
     * A pooled connection. While PostgreSQL refuses this service more connections (53300), the pool may
     * still try to open one when a connection it has is on its way back; the refusal says only that, so
     * the borrow is tried again after a few milliseconds (the deadline bounds it) instead of failing
     * the attempt. Only a refused borrow builds the retry: Mutiny's back-off is a Multi pipeline (a
     * processor and its queue) made at subscription, which on every borrow was ~2 % of a read's CPU.
     */
    private Uni<SqlConnection> connection(Pool on) {
        return on.getConnection().onFailure(this::refusedOneMoreConnection).recoverWithUni(() -> Uni.createFrom()
                .<Void>emitter(wait -> vertx.setTimer(2, fired -> wait.complete(null))) // on this event loop
                .chain(on::getConnection)
                .onFailure(this::refusedOneMoreConnection).retry()
                .withBackOff(Duration.ofMillis(2), Duration.ofMillis(50)).atMost(39));
    }

    private boolean refusedOneMoreConnection(Throwable error) {
        DatabaseFailure failure = FailureClassifier.classify(error);
        // a borrow's 42501 is the CONNECT privilege on the database, checked at login like the password
        return (failure.kind().refusesNewConnections() || failure.kind() == FailureKind.PERMISSION_DENIED)
                && servedOnEstablished(failure);
    }

    /** A new connection was refused: whether the pool serves on the ones it has (the admission learns the cap). */
    private boolean servedOnEstablished(DatabaseFailure refusal) {
        return admission.connectionRefused(poolCreator.openConnections().orElse(0),
                refusal.sqlState() != null ? refusal.sqlState() : "53300");
    }

    @SuppressWarnings("unchecked")
    private <T> Uni<T> guarded(TransactionSpec spec, boolean transactionBlock, PoolAdmission.SharedTurn turn,
                               Function<CommitGate, Uni<T>> attempt) {
        long started = RequestStart.of(System.nanoTime());
        long deadline = started + guardrails.requestTimeout().toNanos();
        RetryBudget budget = new RetryBudget(retryPolicy);
        retryTokens.unitStarted();
        Uni<Object> guarded = guard.get(() -> untilDone(
                        () -> (Uni<Object>) (Uni<?>) attempt(spec, transactionBlock, turn, attempt, budget, deadline), budget))
                .onFailure(error -> spec.idempotent() && budget.commitMayHaveLandedEarlier() && unavailable(error, spec, deadline))
                .recoverWithUni(() -> findOutThroughTheKey(spec, transactionBlock, attempt, budget, deadline));
        return ((Uni<T>) guarded)
                .onCancellation().invoke(budget::callerGone) // a hung-up client: reaches the attempt past the guard
                .onItem().invoke(() -> events.unitSucceeded(spec.operation(), budget.attempts(), System.nanoTime() - started))
                .onFailure(FailureClassifier::isDatabaseFailure).transform(error -> {
                    DatabaseException failure = FailureClassifier.toException(error, spec.operation());
                    if (budget.commitMayHaveLandedEarlier() && failure.kind().httpStatus() == 503) {
                        // an earlier attempt's COMMIT may have landed: "nothing was saved" would be a lie
                        failure = new DatabaseException(failure.failure().withKind(FailureKind.COMMIT_OUTCOME_UNKNOWN),
                                spec.operation(), failure);
                    }
                    events.unitFailed(spec.operation(), failure.failure(), budget.attempts(), System.nanoTime() - started);
                    // callers see a plain DatabaseException: the retryable marker means nothing past the guard
                    return failure instanceof RetryableDatabaseException
                            ? new DatabaseException(failure.failure(), spec.operation(), failure.getCause())
                            : failure;
                });
    }

    /**
     * A keyed unit whose COMMIT may have landed, and whose retries then met a database that was not
     * there (a failover: the old writer gone, the breaker open, no writer yet) does not give up
     * with "outcome unknown" while its deadline allows: it runs again, past the breaker, every 100 to
     * 500 ms, until the database answers. The run finds its key (committed: the stored response) or
     * not (nothing was saved: it is applied now), so the caller gets the real outcome. One attempt
     * per unit in doubt, spaced: a crowd in doubt does not storm a database coming back.
     */
    @SuppressWarnings("unchecked")
    private <T> Uni<Object> findOutThroughTheKey(TransactionSpec spec, boolean transactionBlock,
                                                 Function<CommitGate, Uni<T>> attempt, RetryBudget budget, long deadline) {
        return Uni.createFrom().deferred(() -> (Uni<Object>) (Uni<?>) attempt(spec, transactionBlock, null, attempt, budget, deadline))
                .onFailure(error -> unavailable(error, spec, deadline)).retry()
                .withBackOff(Duration.ofMillis(100), Duration.ofMillis(500)).atMost(100);
    }

    /** A failure that says "the database is not there now" (a 503 kind), with time left to try again. */
    private static boolean unavailable(Throwable error, TransactionSpec spec, long deadline) {
        return deadline - System.nanoTime() > 200_000_000L && FailureClassifier.isDatabaseFailure(error)
                && FailureClassifier.toException(error, spec.operation()).kind().httpStatus() == 503;
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
                        .chain(ignored -> deadlineInTransaction(session, gate))
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
                                .call(() -> discardsConnection(error) ? closeConnection(session) : Uni.createFrom().voidItem()))
                        .eventually(Savepoints::leaveExplicitTransaction)));
    }

    @SuppressWarnings("unchecked")
    private <T> Uni<T> attempt(TransactionSpec spec, boolean transactionBlock, PoolAdmission.SharedTurn turn,
                               Function<CommitGate, Uni<T>> work, RetryBudget budget, long deadline) {
        CommitGate gate = new CommitGate(deadline);
        int attempt = budget.beginAttempt(gate);
        long remaining = deadline - System.nanoTime();
        Uni<T> bounded;
        if (remaining <= 0) {
            gate.abandon();
            bounded = Uni.createFrom().failure(() -> deadlineExceeded(spec, gate));
        } else {
            // a turn on the rows first (waiting for a held row takes no place in the pool's queue), then the pool
            Uni<T> admitted = admission.enter(gate, PoolAdmission.Lane.of(spec.readOnly()), turn).chain(leave -> {
                if (leave == PoolAdmission.RODE) { // answered by another read's statement: no connection was held
                    return Uni.createFrom().item((T) ((java.util.Map<?, ?>) turn.answer()).get(turn.key));
                }
                // its caller went away as the place came, or its deadline passed while it rode: nothing runs
                if (gate.abandoned() || !gate.takePlace()) {
                    if (turn != null) {
                        admission.endRiders(turn);
                    }
                    leave.done(false);
                    return Uni.createFrom().failure(new CommitGate.AbandonedAttemptException());
                }
                // open from here, where it takes a connection: time spent queued is not a transaction held
                long attemptId = attemptIds.incrementAndGet();
                events.attemptStarted(attemptId, spec.operation(), attempt);
                return Uni.createFrom().deferred(() -> work.apply(gate)).onTermination().invoke((item, failure, cancelled) -> {
                    events.attemptEnded(attemptId);
                    if (turn != null) { // riders not answered yet: before the release, which may serve them next
                        admission.endRiders(turn);
                    }
                    leave.done(failure == null && !cancelled);
                });
            });
            Uni<T> running = spec.rows().isEmpty() ? admitted
                    : rows.enter(spec.rows(), gate).chain(leave -> admitted.onTermination().invoke(leave));
            bounded = runToCompletion(running, gate, remaining, () -> deadlineExceeded(spec, gate));
        }
        return bounded.onFailure(FailureClassifier::isDatabaseFailure).transform(error -> {
            DatabaseFailure failure = classifyAttemptFailure(spec, transactionBlock, error, gate);
            if (failure.kind() == FailureKind.READ_ONLY_NODE || failure.kind() == FailureKind.CONNECTION) {
                poolCreator.writerSuspect(); // with DB_HOSTS: a promotion, or a writer that died
            }
            if (gate.commitStarted() && (failure.kind() == FailureKind.COMMIT_OUTCOME_UNKNOWN
                    || failure.kind() == FailureKind.CONNECTION && !FailureClassifier.neverSent(error))) {
                budget.commitMayHaveLanded(); // a retried idempotent unit: its next attempt finds out (the key)
            }
            if (error instanceof RefusedAttemptException refused) {
                events.attemptFailed(spec.operation(), failure, attempt, false);
                return refused; // nothing was sent; its Retry-After goes to the caller as it is
            }
            // a server-side statement_timeout stricter than the deadline is retried like contention, within the budget
            boolean retry = budget.trySpend(failure.kind(), failure.retryable()
                    || failure.kind() == FailureKind.STATEMENT_TIMEOUT && gate.serverLimitStricter())
                    && (failure.kind() == FailureKind.CONNECTION_LIMIT || retryTokens.tryTake());
            events.attemptFailed(spec.operation(), failure, attempt, retry);
            return retry
                    ? new RetryableDatabaseException(failure, spec.operation(), error)
                    : new DatabaseException(failure, spec.operation(), error);
        });
    }

    /**
     * Runs attempts until one succeeds or fails for good. A failure the budget granted a retry for
     * ({@link RetryableDatabaseException}) is followed, after its backoff (a timer of the request's
     * event loop), by a fresh attempt, unless the caller went away meanwhile: then the unit ends with
     * that failure, which the breaker counts like any other (the guard does not pass a caller's
     * cancellation on, so the loop must stop by itself; an attempt started for nobody would end as
     * "abandoned", which the breaker would take for a success).
     */
    private Uni<Object> untilDone(Supplier<Uni<Object>> attempt, RetryBudget budget) {
        return attempt.get().onFailure(RetryableDatabaseException.class::isInstance)
                .recoverWithUni(failure -> backoff(budget).chain(() -> budget.isCallerGone()
                        ? Uni.createFrom().failure(finalFailure((DatabaseException) failure))
                        : untilDone(attempt, budget)));
    }

    private static DatabaseException finalFailure(DatabaseException retryable) {
        return new DatabaseException(retryable.failure(), retryable.operation(), retryable.getCause());
    }

    private Uni<Void> backoff(RetryBudget budget) {
        long millis = retryPolicy.backoffMillis(budget.retries() - 1, ThreadLocalRandom.current());
        return Uni.createFrom().emitter(waiting -> {
            long timer = vertx.setTimer(millis, fired -> waiting.complete(null));
            waiting.onTermination(() -> vertx.cancelTimer(timer));
        });
    }

    /**
     * The attempt's own subscription, which the caller's cancellation (deadline, hung-up client)
     * does not reach once the attempt holds a place in the pool: the transaction always ends with
     * COMMIT or ROLLBACK before its connection is returned, and its result is dropped when nobody
     * waits for it any more. An attempt still queued for a row or a place has sent nothing: a
     * hung-up caller's leaves the queue at once (else the queue of a crowd whose clients gave up and
     * retried would hold their dead requests ahead of the live ones, and refuse the live ones for
     * the wait the dead ones made). The caller stops
     * waiting after {@code remainingNanos}. The deadline is a timer of its event loop ({@link DeadlineTimers}),
     * cancelled as soon as the attempt ends: Mutiny's {@code ifNoItem()} would queue every attempt's
     * timeout in one shared scheduler that keeps cancelled tasks (and the request they reference)
     * until they would have fired, 30 s later by default.
     */
    private <T> Uni<T> runToCompletion(Uni<T> attempt, CommitGate gate, long remainingNanos,
                                       Supplier<DatabaseException> deadlineExceeded) {
        return Uni.createFrom().emitter(emitter -> {
            DeadlineTimers.Timer[] timers = new DeadlineTimers.Timer[2];
            timers[0] = deadlines.schedule(Math.max(1, TimeUnit.NANOSECONDS.toMillis(remainingNanos)), () -> {
                boolean nothingSaved = gate.abandon();
                gate.cancelStatement(); // the backend stops waiting now, not at the end of its statement_timeout
                if (nothingSaved || !gate.cancelSent()) {
                    emitter.fail(deadlineExceeded.get()); // a COMMIT we cannot cancel: its outcome is unknown now
                } else {
                    // an autocommit write or a COMMIT is on its way: the cancel decides it, or it lands
                    timers[1] = deadlines.schedule(COMMIT_GRACE_MILLIS, () -> emitter.fail(deadlineExceeded.get()));
                }
            });
            io.smallrye.mutiny.subscription.Cancellable running = attempt.subscribe().with(item -> {
                cancelTimers(timers);
                emitter.complete(item);
            }, failure -> {
                cancelTimers(timers);
                emitter.fail(failure);
            });
            // a caller gone while the attempt still queues for a row or a place: it leaves the queue, sending nothing,
            // and the attempt ends (the breaker's call with it: a half-open breaker waits for its trial to end)
            gate.whenCallerGoneWhileQueued(() -> {
                cancelTimers(timers);
                running.cancel();
                emitter.fail(new CommitGate.AbandonedAttemptException());
            });
        });
    }

    private static void cancelTimers(DeadlineTimers.Timer[] timers) {
        timers[0].cancel();
        if (timers[1] != null) {
            timers[1].cancel();
        }
    }

    /**
     * Sets the transaction's statement_timeout from what the attempt has left (see
     * {@link #DEADLINE_IN_TRANSACTION}), and notes whether the server's own limit was the stricter one.
     */
    private Uni<Void> deadlineInTransaction(Mutiny.Session session, CommitGate gate) {
        long ours = Math.min(gate.remainingMillis(), guardrails.commandTimeout().toMillis());
        // sent as a statement whose row count is the answer: Hibernate 7.2 never finds a native select's
        // plan in its cache (each execution parsed the SQL again and evicted another plan; a quarter of a
        // keyed create's CPU), while a native statement's plan is found (QueryPlanCacheTest)
        return session.createNativeQuery(DEADLINE_IN_TRANSACTION)
                .setParameter("ms", ours)
                .executeUpdate()
                .invoke(serverStricter -> gate.serverLimitStricter(serverStricter == 1))
                .replaceWithVoid();
    }

    /**
     * The deadline passed during an attempt: nothing saved, unless its COMMIT was already sent. An
     * attempt still waiting for its turn on a row others hold is refused because of that lock.
     */
    private static DatabaseException deadlineExceeded(TransactionSpec spec, CommitGate gate) {
        boolean nothingSaved = gate.abandon();
        FailureKind kind = gate.waitingForRow() ? FailureKind.LOCK_NOT_AVAILABLE
                : nothingSaved || spec.readOnly() ? FailureKind.DEADLINE_EXCEEDED : FailureKind.COMMIT_OUTCOME_UNKNOWN;
        return new DatabaseException(DatabaseFailure.of(kind), spec.operation(), null);
    }

    /**
     * One fresh session for one attempt, with the transaction handling the spec asks for. Always in a
     * transaction: its statement_timeout is how the deadline reaches a session's statements (a session
     * has no connection of its own to send a cancel request on), and a statement left waiting behind a
     * table lock would otherwise keep its connection until the lock went, whatever its caller had been
     * answered. That costs a read as much again as the read itself, so reads use {@link #runStatement};
     * a read-only unit here would not enter the commit gate (its COMMIT saves nothing).
     */
    private <T> Uni<T> session(TransactionSpec spec, Supplier<Uni<T>> work, CommitGate gate) {
        if (spec.savepoints()) {
            return explicitTransaction(spec, work, gate);
        }
        // the transaction ends (and rolls back on failure) inside the session, so that a connection
        // that reported an outage can still be closed before the session hands it back
        return Panache.withSession(() -> Panache.withTransaction(() -> Panache.getSession()
                        .chain(session -> (spec.isolation() == Isolation.READ_COMMITTED
                                ? Uni.createFrom().voidItem()
                                : session.createNativeQuery(spec.isolation().setStatement()).executeUpdate().replaceWithVoid())
                                .chain(ignored -> deadlineInTransaction(session, gate)))
                        .chain(ignored -> runGated(work, gate))
                        .call(Panache::flush)
                        .invoke(() -> {
                            if (!spec.readOnly()) {
                                gate.enterCommit();
                            }
                        }))
                .onFailure(UnitOfWork::discardsConnection).call(() -> Panache.getSession().chain(UnitOfWork::closeConnection)));
    }

    /** The work, unless the attempt was abandoned while it waited for its connection. */
    private static <T> Uni<T> runGated(Supplier<Uni<T>> work, CommitGate gate) {
        gate.ensureRunning();
        return work.get();
    }

    private static boolean discardsConnection(Throwable error) {
        return FailureClassifier.classify(error).kind().discardsConnection(); // anything unclassified is OTHER
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
        // (the connection's close handler belongs to the pool: replacing it to wait for the close would leave the
        // pool counting a dead connection as open, and refusing new ones under a server's connection cap)
        return connection.query(TERMINATE_OWN_BACKEND).execute()
                .replaceWithVoid()
                .onFailure().recoverWithNull();
    }

    /** The failure of one attempt, refined by when it happened: during COMMIT, or with no clean rollback. */
    private DatabaseFailure classifyAttemptFailure(TransactionSpec spec, boolean transactionBlock, Throwable error,
                                                   CommitGate gate) {
        AttemptFailure failure = AttemptFailure.of(spec, transactionBlock, error, gate.commitStarted());
        if (failure.rollbackFailed()) {
            events.rollbackFailed(spec.operation(), failure.classified());
        }
        FailureKind kind = failure.reported().kind();
        boolean loginRefused = kind == FailureKind.DATABASE_AUTH_FAILED
                || kind == FailureKind.PERMISSION_DENIED && FailureClassifier.atLogin(error); // REVOKE CONNECT
        if (kind == FailureKind.CONNECTION_LIMIT || loginRefused) {
            boolean servedOnEstablished = servedOnEstablished(failure.reported());
            if (kind == FailureKind.CONNECTION_LIMIT && !servedOnEstablished) {
                return failure.reported().withKind(FailureKind.CONNECTION); // no connection at all: an outage
            }
            if (loginRefused && servedOnEstablished) {
                // only new connections are refused (a rotated password, a revoked CONNECT): the ones logged in
                // serve, as under a cap
                return failure.reported().withKind(FailureKind.CONNECTION_LIMIT);
            }
        }
        if ((kind == FailureKind.STATEMENT_TIMEOUT || kind == FailureKind.STATEMENT_CANCELLED
                || kind == FailureKind.LOCK_NOT_AVAILABLE) && gate.deadlineReached()
                && !(error instanceof DatabaseException)) { // not the deadline's own answer (a refusal for a held row)
            // cancelled by the request's own deadline (its statement_timeout or its cancel request): the
            // statement was rolled back, so nothing was saved, even by an autocommit write
            return failure.reported().withKind(FailureKind.DEADLINE_EXCEEDED);
        }
        return failure.reported();
    }
}
