package dev.bastion.database;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import dev.bastion.config.SecondsConverter;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;

/**
 * The database guardrails, from the {@code DB_*} environment variables (see application.properties
 * and the README). Durations are written in seconds, as operators write them
 * ({@code DB_RETRY_BASE_DELAY=0.1}, see {@link SecondsConverter}), and read as {@link Duration}s.
 * {@link DatabaseSettingsCheck} refuses, at start-up, values out of range and
 * contradictory combinations with a message naming the variables.
 */
@ConfigMapping(prefix = "bastion.db")
public interface DatabaseSettings {

    /**
     * Whether the service applies the shipped schema migrations at start-up (DB_MIGRATE_AT_START);
     * see dev.bastion.schema.MigrateAtStart.
     */
    @WithDefault("true")
    boolean migrateAtStart();

    /**
     * Migrate, then exit 0 without serving (DB_MIGRATE_ONLY): the Kubernetes Job that migrates once
     * per release, before the new pods (DB_MIGRATE_AT_START=false) take traffic.
     */
    @WithDefault("false")
    boolean migrateOnly();

    /**
     * How long a whole migration run may take, every wait included: another pod's or Job's migration,
     * and retries of DDL that could not get its lock in time (DB_MIGRATION_TIMEOUT). Also each
     * statement's statement_timeout: a migration may run longer than DB_COMMAND_TIMEOUT allows a request.
     */
    @WithDefault("300") @WithConverter(SecondsConverter.class)
    Duration migrationTimeout();

    /**
     * How long one migration statement waits for a table lock before it gives up and the migration is
     * tried again later (DB_MIGRATION_LOCK_TIMEOUT): DDL never sits in PostgreSQL's lock queue, where
     * every query on the table would wait behind it.
     */
    @WithDefault("2") @WithConverter(SecondsConverter.class)
    Duration migrationLockTimeout();

    /**
     * A file holding the database password, read for every new connection (DB_PASSWORD_FILE): a
     * Kubernetes Secret mounted as a volume, rotated without a restart. Overrides DB_PASSWORD.
     */
    Optional<String> passwordFile();

    /**
     * The database's hosts as {@code host:port} (DB_HOSTS, comma-separated), instead of DB_HOST and
     * DB_PORT: the service finds the writer among them by itself ({@link WriterDiscovery}).
     */
    Optional<List<String>> hosts();

    /**
     * Where reads by id go with DB_HOSTS (DB_READ_TARGET): {@code primary}, or {@code prefer-standby}: a
     * streaming standby no further behind than DB_MAX_STANDBY_LAG, the writer when there is none.
     */
    @WithDefault("primary")
    ReadTarget readTarget();

    /** How far behind the writer a standby may be and still serve reads (DB_MAX_STANDBY_LAG). */
    @WithDefault("5") @WithConverter(SecondsConverter.class)
    Duration maxStandbyLag();

    /** See {@link #readTarget()}. */
    enum ReadTarget {
        PRIMARY, PREFER_STANDBY
    }

    /** A file holding the database user name, read like {@link #passwordFile()} (DB_USERNAME_FILE). */
    Optional<String> usernameFile();

    /** Connections kept for steady load (DB_POOL_SIZE). */
    @WithDefault("20")
    int poolSize();

    /** Extra connections the pool may open under load; they close again when idle (DB_MAX_OVERFLOW). */
    @WithDefault("30")
    int maxOverflow();

    /**
     * Attempts that write the same row and may hold a pooled connection at once; more wait for their
     * turn without a connection (DB_MAX_CONNECTIONS_PER_ROW). Bounds what one held row costs the pool.
     */
    @WithDefault("2")
    int maxConnectionsPerRow();

    /** DB_POOL_TIMEOUT as set; unset, it is derived ({@link #poolTimeout()}). */
    @WithName("pool-timeout") @WithConverter(SecondsConverter.class)
    Optional<Duration> poolTimeoutSetting();

    /**
     * Longest wait for a free connection before the caller gets 503 (DB_POOL_TIMEOUT): as set, or
     * 30 s, or the request deadline when that is shorter, so that lowering DB_REQUEST_TIMEOUT alone works.
     */
    default Duration poolTimeout() {
        return poolTimeoutSetting().orElseGet(() -> shorter(Duration.ofSeconds(30), requestTimeout()));
    }

    /**
     * Hard cap on callers waiting for a connection (DB_POOL_WAIT_QUEUE): a memory bound. Callers are
     * refused earlier by time, when they could not be served within DB_POOL_TIMEOUT or their deadline
     * (see PoolAdmission).
     */
    @WithDefault("10000")
    int poolWaitQueue();

    /** Maximum lifetime of a connection before it is replaced (DB_POOL_RECYCLE). */
    @WithDefault("3600") @WithConverter(SecondsConverter.class)
    Duration poolRecycle();

    /** Idle time after which connections above the need are closed (DB_POOL_IDLE_TIMEOUT). */
    @WithDefault("300") @WithConverter(SecondsConverter.class)
    Duration poolIdleTimeout();

    /** DB_CONNECT_TIMEOUT as set; unset, it is derived ({@link #connectTimeout()}). */
    @WithName("connect-timeout") @WithConverter(SecondsConverter.class)
    Optional<Duration> connectTimeoutSetting();

    /** TCP connect timeout (DB_CONNECT_TIMEOUT): as set, or 10 s, or the request deadline when that is shorter. */
    default Duration connectTimeout() {
        return connectTimeoutSetting().orElseGet(() -> shorter(Duration.ofSeconds(10), requestTimeout()));
    }

    private static Duration shorter(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** statement_timeout, enforced by PostgreSQL (DB_COMMAND_TIMEOUT). */
    @WithDefault("300") @WithConverter(SecondsConverter.class)
    Duration commandTimeout();

    /**
     * The most one request may spend on the database: pool wait, every attempt and every backoff
     * (DB_REQUEST_TIMEOUT).
     */
    @WithDefault("30") @WithConverter(SecondsConverter.class)
    Duration requestTimeout();

    /**
     * Idle time before TCP keepalive probes start, on PostgreSQL's side of each connection
     * (tcp_keepalives_idle; DB_TCP_KEEPALIVE_IDLE). The service's side follows the kernel's
     * net.ipv4.tcp_keepalive_time, which the Kubernetes manifest sets to the same value. Whole
     * seconds, not a {@link Duration}: both PostgreSQL's setting and the kernel's take nothing finer.
     */
    @WithDefault("15")
    int tcpKeepaliveIdle();

    /** Time between TCP keepalive probes, whole seconds like the idle time (DB_TCP_KEEPALIVE_INTERVAL). */
    @WithDefault("5")
    int tcpKeepaliveInterval();

    /** Unanswered keepalive probes before the connection is dropped (DB_TCP_KEEPALIVE_COUNT). */
    @WithDefault("3")
    int tcpKeepaliveCount();

    /**
     * Longest time sent data may stay unacknowledged before the kernel drops the connection
     * (TCP_USER_TIMEOUT): bounds a query, and the start-up handshake, sent into a silent network
     * (DB_TCP_USER_TIMEOUT).
     */
    @WithDefault("30") @WithConverter(SecondsConverter.class)
    Duration tcpUserTimeout();

    /** Longest a session/transaction may stay open; idle_in_transaction_session_timeout too (DB_SESSION_TIMEOUT). */
    @WithDefault("1800") @WithConverter(SecondsConverter.class)
    Duration sessionTimeout();

    /** Retries of a transaction after a transient failure (DB_MAX_RETRIES). */
    @WithDefault("3")
    int maxRetries();

    /** Retries of a transaction after a deadlock or serialization failure (DB_DEADLOCK_RETRY_COUNT). */
    @WithDefault("5")
    int deadlockRetryCount();

    /** First retry delay; doubles each attempt (DB_RETRY_BASE_DELAY). */
    @WithDefault("0.1") @WithConverter(SecondsConverter.class)
    Duration retryBaseDelay();

    /** Cap of the exponential backoff (DB_RETRY_MAX_DELAY). */
    @WithDefault("5.0") @WithConverter(SecondsConverter.class)
    Duration retryMaxDelay();

    /** Total time a unit of work may spend retrying (DB_RETRY_DEADLINE). */
    @WithDefault("30") @WithConverter(SecondsConverter.class)
    Duration retryDeadline();

    /** A connection or transaction held longer than this is reported as a possible leak (DB_LEAK_THRESHOLD). */
    @WithDefault("30") @WithConverter(SecondsConverter.class)
    Duration leakThreshold();

    /** Share of failing calls in the window that opens the breaker (DB_BREAKER_FAILURE_RATIO). */
    @WithDefault("0.5")
    double breakerFailureRatio();

    /** Calls in the breaker's rolling window (DB_BREAKER_REQUEST_VOLUME). */
    @WithDefault("10")
    int breakerRequestVolume();

    /** How long the breaker stays open before letting a trial call through (DB_BREAKER_DELAY). */
    @WithDefault("5") @WithConverter(SecondsConverter.class)
    Duration breakerDelay();

    /**
     * Longest wait of the readiness probe and the admin diagnostics for their own connection and
     * query (bastion.db.probe-timeout).
     */
    @WithDefault("2") @WithConverter(SecondsConverter.class)
    Duration probeTimeout();

    /** A unit of work that takes longer is counted as slow (bastion.db.slow-threshold). */
    @WithDefault("1") @WithConverter(SecondsConverter.class)
    Duration slowThreshold();

    /** Largest pool size: steady connections plus overflow. */
    default int poolMaxSize() {
        return poolSize() + maxOverflow();
    }
}
