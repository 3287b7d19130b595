package dev.bastion.database;

import java.io.IOException;
import java.sql.SQLException;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.Collections;

import io.smallrye.faulttolerance.api.RateLimitException;
import io.smallrye.mutiny.CompositeException;
import io.vertx.core.VertxException;
import io.vertx.core.http.ConnectionPoolTooBusyException;
import io.vertx.core.impl.NoStackTraceThrowable;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.ClosedConnectionException;
import jakarta.persistence.OptimisticLockException;
import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;
import org.hibernate.StaleStateException;

/**
 * Turns whatever Hibernate Reactive, the Vert.x pg client, the pool or SmallRye Fault Tolerance
 * threw into a {@link DatabaseFailure}. Driven by SQLSTATE wherever PostgreSQL gave one; the pool
 * and connection layers have no codes, so their exception types (and, for Vert.x's bare pool
 * timeouts, their fixed messages) are used instead.
 */
public final class FailureClassifier {

    private FailureClassifier() {
    }

    public static DatabaseFailure classify(Throwable error) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        String constraintFromHibernate = null;
        for (Throwable t = error; t != null && seen.add(t); t = t.getCause()) {
            if (t instanceof DatabaseException classified) {
                return classified.failure();
            }
            if (t instanceof PgException pg) {
                return new DatabaseFailure(SqlStates.kindOf(pg.getSqlState(), pg.getMessage()), pg.getSqlState(),
                        pg.getConstraint(), pg.getTable(), pg.getColumn());
            }
            if (t instanceof org.hibernate.exception.ConstraintViolationException cve) {
                constraintFromHibernate = cve.getConstraintName();
            }
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                return new DatabaseFailure(SqlStates.kindOf(sql.getSQLState(), sql.getMessage()), sql.getSQLState(),
                        constraintFromHibernate, null, null);
            }
            FailureKind kind = kindOfNonSql(t);
            if (kind != null) {
                return DatabaseFailure.of(kind);
            }
        }
        return DatabaseFailure.of(FailureKind.OTHER);
    }

    /**
     * Whether PostgreSQL refused the login itself (a FATAL at connection start: the password, the
     * CONNECT privilege, pg_hba.conf), not one statement (an ERROR).
     */
    public static boolean atLogin(Throwable error) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Throwable t = error; t != null && seen.add(t); t = t.getCause()) {
            if (t instanceof PgException pg) {
                return "FATAL".equals(pg.getSeverity());
            }
        }
        return false;
    }

    /**
     * Whether {@code error} came from the database stack at all. Domain errors raised by the work
     * itself (an {@code ApiProblem}, a not-found) pass through the unit of work untouched.
     */
    public static boolean isDatabaseFailure(Throwable error) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Throwable t = error; t != null && seen.add(t); t = t.getCause()) {
            if (t instanceof DatabaseException || t instanceof PgException || t instanceof SQLException
                    || t instanceof org.hibernate.HibernateException || t instanceof jakarta.persistence.PersistenceException
                    || t instanceof org.eclipse.microprofile.faulttolerance.exceptions.FaultToleranceException
                    || kindOfNonSql(t) != null) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether rolling back after {@code error} failed too. Hibernate Reactive rolls back with
     * Mutiny's {@code onFailure().call(...)}, which reports a failing rollback as a
     * {@link CompositeException} of the original failure and the rollback's.
     */
    public static boolean rollbackFailed(Throwable error) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Throwable t = error; t != null && seen.add(t); t = t.getCause()) {
            if (t instanceof CompositeException composite && composite.getCauses().size() > 1) {
                return composite.getCauses().stream().skip(1).anyMatch(FailureClassifier::isDatabaseFailure);
            }
        }
        return false;
    }

    /**
     * Whether the failure says the statement never left the service: Vert.x refuses to send on a
     * connection it already knows is closed ("Connection is not active now"), so nothing can have
     * committed, whatever the attempt was about to do.
     */
    public static boolean neverSent(Throwable error) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Throwable t = error; t != null && seen.add(t); t = t.getCause()) {
            if ((t instanceof NoStackTraceThrowable || t instanceof VertxException) && t.getMessage() != null
                    && t.getMessage().startsWith("Connection is not active now")) {
                return true;
            }
        }
        return false;
    }

    public static DatabaseException toException(Throwable error, String operation) {
        if (error instanceof DatabaseException e) {
            return e;
        }
        return new DatabaseException(classify(error), operation, error);
    }

    private static FailureKind kindOfNonSql(Throwable t) {
        if (t instanceof StaleStateException || t instanceof OptimisticLockException) {
            return FailureKind.OPTIMISTIC_LOCK;
        }
        if (t instanceof CircuitBreakerOpenException || t instanceof RateLimitException) {
            return FailureKind.CIRCUIT_OPEN;
        }
        if (t instanceof ConnectionPoolTooBusyException) {
            return FailureKind.POOL_EXHAUSTED;
        }
        if (t instanceof ClosedConnectionException
                || t instanceof IOException && !(t instanceof com.fasterxml.jackson.core.JsonProcessingException)) {
            return FailureKind.CONNECTION; // includes ConnectException and Netty's ConnectTimeoutException
        }
        if (t instanceof NoStackTraceThrowable || t instanceof VertxException) {
            return vertxMessageKind(t.getMessage());
        }
        return null;
    }

    // Vert.x reports pool timeouts and dead connections with codeless exceptions and fixed messages.
    private static final Map<String, FailureKind> VERTX_MESSAGES = Map.of(
            "Timeout", FailureKind.POOL_EXHAUSTED,                        // PoolOptions.connectionTimeout elapsed
            "Timeout waiting for connection", FailureKind.POOL_EXHAUSTED,
            "Connection is not active now", FailureKind.CONNECTION,
            "Connection closed", FailureKind.CONNECTION,
            "Failed to read any response from the server, the underlying connection may have been lost unexpectedly.",
            FailureKind.CONNECTION);

    private static FailureKind vertxMessageKind(String message) {
        if (message == null) {
            return null;
        }
        FailureKind kind = VERTX_MESSAGES.get(message);
        if (kind == null && (message.startsWith("Connection refused") || message.startsWith("Connection is not active now"))) {
            return FailureKind.CONNECTION;
        }
        return kind;
    }
}
