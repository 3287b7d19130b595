package dev.bastion.database;

/**
 * What went wrong with a database interaction, independent of the driver that reported it.
 * <p>
 * This enum is the one table of failure policy: whether the whole transaction may be retried, the
 * HTTP status it becomes, its stable problem type and what a caller can do about it. Everything
 * else (classification, mapping, metrics, monitors) reads from here instead of branching on
 * SQLSTATEs.
 */
@io.quarkus.runtime.annotations.RegisterForReflection // written as JSON in the contention events of the admin API
public enum FailureKind {
    //                      retryable  status  problem slug                title
    UNIQUE_VIOLATION(false, 409, "unique-violation", "Duplicate value",
            "A record with this value already exists: fetch it instead of creating it again, or use another value."),
    FOREIGN_KEY_VIOLATION(false, 409, "foreign-key-violation", "Related record conflict",
            "The record is referenced by, or refers to, another record: resolve the relation first."),
    NOT_NULL_VIOLATION(false, 422, "not-null-violation", "Missing required value",
            "Provide a value for the field."),
    CHECK_VIOLATION(false, 422, "check-violation", "Value not allowed",
            "Send a value within the documented range or set of values."),
    EXCLUSION_VIOLATION(false, 409, "exclusion-violation", "Conflicting record",
            "Another record overlaps with this one: change the conflicting values."),
    INVALID_DATA(false, 422, "invalid-data", "Invalid value",
            "A value has the wrong format or is out of range: check the field limits in the API documentation."),
    OPTIMISTIC_LOCK(false, 409, "concurrent-modification", "Concurrent modification",
            "Someone else changed this record: GET it again and retry with its current version."),
    DEADLOCK(true, 503, "deadlock", "Transaction deadlocked",
            "The database stayed contended after several attempts: retry the request after the Retry-After delay."),
    SERIALIZATION_FAILURE(true, 503, "serialization-failure", "Transaction conflict",
            "Concurrent transactions kept conflicting: retry the request after the Retry-After delay."),
    LOCK_NOT_AVAILABLE(true, 503, "lock-not-available", "Record locked",
            "The record is locked by other work: retry the request after the Retry-After delay."),
    STATEMENT_TIMEOUT(false, 504, "statement-timeout", "Database operation timed out",
            "The operation took longer than the server allows: narrow the request or retry later."),
    // 57014 "due to user request" that the request's own deadline did not send: an operator's pg_cancel_backend
    // (or a tool acting for one), or a deadline's cancel request that reached its backend after that statement
    // ended and the connection served another request (PostgreSQL's cancel names a backend, not a statement).
    // The statement was rolled back; its transaction is run once more within DB_MAX_RETRIES: the cancel
    // interrupted this attempt, it did not condemn the request
    STATEMENT_CANCELLED(true, 503, "statement-cancelled", "Database operation cancelled",
            "An operator or the database cancelled the operation and nothing was saved: retry the request after "
                    + "the Retry-After delay."),
    TRANSACTION_TIMEOUT(false, 504, "transaction-timeout", "Transaction held too long",
            "The transaction was ended because it stayed open too long: retry the request."),
    CONNECTION(true, 503, "database-unavailable", "Database unavailable",
            "The database could not be reached: retry the request after the Retry-After delay."),
    // PostgreSQL refused a *new* connection (53300: the role's or database's connection limit, or slots reserved
    // for superusers): the pool serves on the connections it has (PoolAdmission), so this is retried, not an outage
    CONNECTION_LIMIT(true, 503, "database-connection-limit", "Database connection limit reached",
            "The database refuses more connections from this service for now: retry the request after the "
                    + "Retry-After delay."),
    // 28P01 / 28000 when connecting: a rotated password, a dropped role, pg_hba.conf
    DATABASE_AUTH_FAILED(false, 503, "database-auth-failed", "Database refused the service's credentials",
            "The service cannot log in to the database right now (its operators are alerted): retry the request "
                    + "after the Retry-After delay."),
    // 42501: a privilege revoked (REVOKE INSERT ON a table, REVOKE CONNECT ON a database), an operator's decision
    // about one kind of statement, not a fault in the request or an outage: that operation is refused, the rest
    // of the API goes on, and nothing is retried (the same statement meets the same refusal)
    PERMISSION_DENIED(false, 503, "database-permission-denied", "Database refused the operation",
            "The database does not allow this service this operation right now (its operators are alerted) and "
                    + "nothing was saved: retry the request after the Retry-After delay."),
    // 53xxx (disk full, out of memory, configuration limits), 58xxx (I/O errors), 57000, 54000 naming wraparound (near
    // transaction ID wraparound), 2200H (a sequence at its maximum): the server cannot serve this now, whatever the
    // caller sends (the last two are not retried: a retry meets the same refusal)
    DATABASE_RESOURCES(true, 503, "database-resources", "Database out of resources",
            "The database is short of disk, memory or another resource (its operators are alerted) and nothing was "
                    + "saved: retry the request after the Retry-After delay."),
    // a standby not yet promoted, a demoted primary behind the writer address during a failover, or a database
    // switched to read-only (default_transaction_read_only, storage protection): reads go on, writes are refused
    READ_ONLY_NODE(true, 503, "database-read-only", "Database is read-only",
            "The database refuses writes for now (a failover or a read-only spell); reads still work: retry the "
                    + "request after the Retry-After delay."),
    // DB_REQUEST_TIMEOUT passed before COMMIT was sent: the attempt is rolled back, nothing was saved
    DEADLINE_EXCEEDED(false, 503, "request-deadline-exceeded", "Database too slow",
            "The database did not finish within the request deadline and nothing was saved: retry the request "
                    + "after the Retry-After delay."),
    POOL_EXHAUSTED(false, 503, "pool-exhausted", "Service busy",
            "All database connections are in use: retry the request after the Retry-After delay."),
    CIRCUIT_OPEN(false, 503, "circuit-open", "Database temporarily unavailable",
            "The service stopped calling a failing database for a moment: retry after the Retry-After delay."),
    // 500, not 503: meshes and clients retry 503 on their own, which must not happen to a write that may have committed
    COMMIT_OUTCOME_UNKNOWN(false, 500, "commit-outcome-unknown", "Outcome unknown",
            "The connection was lost while committing: the change may or may not be saved. GET the resource, "
                    + "or repeat the request with the same Idempotency-Key, which is always safe."),
    ROLLBACK_FAILED(false, 503, "rollback-failed", "Transaction could not be rolled back cleanly",
            "Nothing was saved; the connection was discarded. Retry the request after the Retry-After delay."),
    OTHER(false, 500, "database-error", "Database error",
            "An unexpected database error occurred; it has been logged. Retry later or contact support.");

    private final boolean retryable;
    private final int httpStatus;
    private final String problemSlug;
    private final String title;
    private final String advice;

    FailureKind(boolean retryable, int httpStatus, String problemSlug, String title, String advice) {
        this.retryable = retryable;
        this.httpStatus = httpStatus;
        this.problemSlug = problemSlug;
        this.title = title;
        this.advice = advice;
    }

    /** Whether running the whole transaction again can succeed without the caller changing anything. */
    public boolean retryable() {
        return retryable;
    }

    public int httpStatus() {
        return httpStatus;
    }

    /** Stable identifier for problem+json {@code type} URIs and metric tags. */
    public String problemSlug() {
        return problemSlug;
    }

    public String title() {
        return title;
    }

    public String advice() {
        return advice;
    }

    public boolean isConstraintViolation() {
        return switch (this) {
            case UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION, NOT_NULL_VIOLATION, CHECK_VIOLATION, EXCLUSION_VIOLATION -> true;
            default -> false;
        };
    }

    /** Deadlocks and serialization failures: contention between transactions, with their own retry budget. */
    public boolean isContention() {
        return this == DEADLOCK || this == SERIALIZATION_FAILURE;
    }

    /**
     * The database (not one request, not one kind of statement) cannot be used: these count towards
     * opening the circuit breaker. A read-only database is not one (reads still work, and a breaker
     * opened by refused writes would turn them away too); neither is a connection limit (the pool
     * serves on the connections it has), nor a database short of a resource: a full disk refuses the
     * writes that need more of it, not the reads; memory or a configured limit fails one statement, an
     * I/O error names one file. Those are retried within the budgets across requests, not shed wholesale.
     */
    public boolean isOutage() {
        return this == CONNECTION || this == DATABASE_AUTH_FAILED;
    }

    /**
     * What the circuit breaker counts: an outage, or a connection lost mid-commit (the database's
     * trouble too, though the request's answer is "outcome unknown").
     */
    public boolean countsTowardBreaker() {
        return isOutage() || this == COMMIT_OUTCOME_UNKNOWN;
    }

    /**
     * PostgreSQL refused this service a new connection (its connection limit, or the credentials, which
     * only a new connection presents): the connections the pool already has may still serve.
     */
    public boolean refusesNewConnections() {
        return this == CONNECTION_LIMIT || this == DATABASE_AUTH_FAILED;
    }

    /**
     * The connection that reported this must never be handed out again: it is lost, or it is attached
     * to a node that cannot take writes (a stale connection to a demoted primary).
     */
    public boolean discardsConnection() {
        return this == CONNECTION || this == READ_ONLY_NODE;
    }
}
