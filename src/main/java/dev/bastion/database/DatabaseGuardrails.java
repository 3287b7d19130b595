package dev.bastion.database;

import java.time.Duration;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.Positive;

/**
 * The database guardrails, from the {@code DB_*} environment variables (see application.properties
 * and the README). Durations are in seconds, as operators write them ({@code DB_RETRY_BASE_DELAY=0.1}).
 * Quarkus validates the constraints at start-up and refuses to start with a message naming the key.
 */
@ConfigMapping(prefix = "bastion.db")
public interface DatabaseGuardrails {

    /** Connections kept for steady load (DB_POOL_SIZE). */
    @Min(1) @Max(1000)
    @WithDefault("20")
    int poolSize();

    /** Extra connections the pool may open under load; they close again when idle (DB_MAX_OVERFLOW). */
    @Min(0) @Max(1000)
    @WithDefault("30")
    int maxOverflow();

    /** Longest wait for a free connection before the caller gets 503 (DB_POOL_TIMEOUT). */
    @DecimalMin("0.001") @DecimalMax("3600")
    @WithDefault("30")
    double poolTimeout();

    /** Callers allowed to wait for a connection; more are refused at once (DB_POOL_WAIT_QUEUE). */
    @Min(0) @Max(100000)
    @WithDefault("200")
    int poolWaitQueue();

    /** Maximum lifetime of a connection before it is replaced (DB_POOL_RECYCLE). */
    @DecimalMin("1") @WithDefault("3600")
    double poolRecycle();

    /** Idle time after which connections above the need are closed (DB_POOL_IDLE_TIMEOUT). */
    @DecimalMin("1") @WithDefault("300")
    double poolIdleTimeout();

    /** TCP connect timeout (DB_CONNECT_TIMEOUT). */
    @DecimalMin("0.1") @DecimalMax("600")
    @WithDefault("10")
    double connectTimeout();

    /** statement_timeout, enforced by PostgreSQL (DB_COMMAND_TIMEOUT). */
    @DecimalMin("0.1") @WithDefault("300")
    double commandTimeout();

    /**
     * The most one request may spend on the database: pool wait, every attempt and every backoff
     * (DB_REQUEST_TIMEOUT).
     */
    @DecimalMin("0.1") @DecimalMax("3600")
    @WithDefault("30")
    double requestTimeout();

    /**
     * Idle time before TCP keepalive probes start, on PostgreSQL's side of each connection
     * (tcp_keepalives_idle; DB_TCP_KEEPALIVE_IDLE). The service's side follows the kernel's
     * net.ipv4.tcp_keepalive_time, which the Kubernetes manifest sets to the same value.
     */
    @Min(1) @Max(7200)
    @WithDefault("15")
    int tcpKeepaliveIdle();

    /** Time between TCP keepalive probes (DB_TCP_KEEPALIVE_INTERVAL). */
    @Min(1) @Max(600)
    @WithDefault("5")
    int tcpKeepaliveInterval();

    /** Unanswered keepalive probes before the connection is dropped (DB_TCP_KEEPALIVE_COUNT). */
    @Min(1) @Max(100)
    @WithDefault("3")
    int tcpKeepaliveCount();

    /**
     * Longest time sent data may stay unacknowledged before the kernel drops the connection
     * (TCP_USER_TIMEOUT): bounds a query, and the start-up handshake, sent into a silent network
     * (DB_TCP_USER_TIMEOUT).
     */
    @DecimalMin("1") @DecimalMax("3600")
    @WithDefault("30")
    double tcpUserTimeout();

    /** Longest a session/transaction may stay open; idle_in_transaction_session_timeout too (DB_SESSION_TIMEOUT). */
    @DecimalMin("1") @WithDefault("1800")
    double sessionTimeout();

    /** Retries of a transaction after a transient failure (DB_MAX_RETRIES). */
    @Min(0) @Max(100)
    @WithDefault("3")
    int maxRetries();

    /** Retries of a transaction after a deadlock or serialization failure (DB_DEADLOCK_RETRY_COUNT). */
    @Min(0) @Max(100)
    @WithDefault("5")
    int deadlockRetryCount();

    /** First retry delay; doubles each attempt (DB_RETRY_BASE_DELAY). */
    @DecimalMin("0.001") @DecimalMax("60")
    @WithDefault("0.1")
    double retryBaseDelay();

    /** Cap of the exponential backoff (DB_RETRY_MAX_DELAY). */
    @DecimalMin("0.001") @DecimalMax("600")
    @WithDefault("5.0")
    double retryMaxDelay();

    /** Total time a unit of work may spend retrying (DB_RETRY_DEADLINE). */
    @DecimalMin("0.01") @WithDefault("30")
    double retryDeadline();

    /** A connection or transaction held longer than this is reported as a possible leak (DB_LEAK_THRESHOLD). */
    @DecimalMin("0.01") @WithDefault("30")
    double leakThreshold();

    /** Share of failing calls in the window that opens the breaker (DB_BREAKER_FAILURE_RATIO). */
    @DecimalMin("0.01") @DecimalMax("1")
    @WithDefault("0.5")
    double breakerFailureRatio();

    /** Calls in the breaker's rolling window (DB_BREAKER_REQUEST_VOLUME). */
    @Min(1) @WithDefault("10")
    int breakerRequestVolume();

    /** How long the breaker stays open before letting a trial call through (DB_BREAKER_DELAY). */
    @DecimalMin("0.01") @WithDefault("5")
    double breakerDelay();

    /** Largest pool size: steady connections plus overflow. */
    default int poolMaxSize() {
        return poolSize() + maxOverflow();
    }

    static Duration seconds(double seconds) {
        return Duration.ofNanos(Math.round(seconds * 1_000_000_000d));
    }

    static int millis(double seconds) {
        return (int) Math.min(Integer.MAX_VALUE, Math.round(seconds * 1000d));
    }
}
