package dev.bastion.database;

import static java.time.Duration.ofDays;
import static java.time.Duration.ofHours;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofMinutes;
import static java.time.Duration.ofSeconds;

import dev.bastion.config.CheckedSettings;
import dev.bastion.config.SettingsProblems;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;

/** The DB_* settings' ranges and relations (reported first: {@code @Priority}). */
@ApplicationScoped
@Priority(30)
public class DatabaseSettingsCheck implements CheckedSettings {

    private final DatabaseSettings settings;

    public DatabaseSettingsCheck(DatabaseSettings settings) {
        this.settings = settings;
    }

    @Override
    public void check(SettingsProblems p) {
        DatabaseSettings g = settings;
        p.between("DB_POOL_SIZE", g.poolSize(), 1, 1000);
        p.between("DB_MAX_OVERFLOW", g.maxOverflow(), 0, 1000);
        p.between("DB_POOL_TIMEOUT", g.poolTimeout(), ofMillis(1), ofHours(1));
        p.between("DB_POOL_WAIT_QUEUE", g.poolWaitQueue(), 0, 100_000);
        p.between("DB_MAX_CONNECTIONS_PER_ROW", g.maxConnectionsPerRow(), 1, 1000);
        p.atLeast("DB_POOL_RECYCLE", g.poolRecycle(), ofSeconds(1));
        p.atLeast("DB_POOL_IDLE_TIMEOUT", g.poolIdleTimeout(), ofSeconds(1));
        p.between("DB_CONNECT_TIMEOUT", g.connectTimeout(), ofMillis(100), ofMinutes(10));
        p.atLeast("DB_COMMAND_TIMEOUT", g.commandTimeout(), ofMillis(100));
        p.between("DB_MIGRATION_TIMEOUT", g.migrationTimeout(), ofSeconds(1), ofDays(1));
        p.between("DB_MIGRATION_LOCK_TIMEOUT", g.migrationLockTimeout(), java.time.Duration.ofMillis(10), ofSeconds(600));
        p.between("DB_REQUEST_TIMEOUT", g.requestTimeout(), ofMillis(100), ofHours(1));
        p.between("DB_TCP_KEEPALIVE_IDLE", g.tcpKeepaliveIdle(), 1, 7200);
        p.between("DB_TCP_KEEPALIVE_INTERVAL", g.tcpKeepaliveInterval(), 1, 600);
        p.between("DB_TCP_KEEPALIVE_COUNT", g.tcpKeepaliveCount(), 1, 100);
        p.between("DB_TCP_USER_TIMEOUT", g.tcpUserTimeout(), ofSeconds(1), ofHours(1));
        p.atLeast("DB_SESSION_TIMEOUT", g.sessionTimeout(), ofSeconds(1));
        p.between("DB_MAX_RETRIES", g.maxRetries(), 0, 100);
        p.between("DB_DEADLOCK_RETRY_COUNT", g.deadlockRetryCount(), 0, 100);
        p.between("DB_RETRY_BASE_DELAY", g.retryBaseDelay(), ofMillis(1), ofMinutes(1));
        p.between("DB_RETRY_MAX_DELAY", g.retryMaxDelay(), ofMillis(1), ofMinutes(10));
        p.atLeast("DB_RETRY_DEADLINE", g.retryDeadline(), ofMillis(10));
        p.atLeast("DB_LEAK_THRESHOLD", g.leakThreshold(), ofMillis(10));
        p.between("DB_BREAKER_FAILURE_RATIO", g.breakerFailureRatio(), 0.01, 1);
        p.atLeast("DB_BREAKER_REQUEST_VOLUME", g.breakerRequestVolume(), 1);
        p.atLeast("DB_BREAKER_DELAY", g.breakerDelay(), ofMillis(10));
        p.between("BASTION_DB_PROBE_TIMEOUT", g.probeTimeout(), ofMillis(10), ofMinutes(10));
        p.atLeast("BASTION_DB_SLOW_THRESHOLD", g.slowThreshold(), ofMillis(1));
        p.between("DB_MAX_STANDBY_LAG", g.maxStandbyLag(), ofMillis(100), ofHours(1));

        p.notBelow("DB_RETRY_MAX_DELAY", g.retryMaxDelay(), "DB_RETRY_BASE_DELAY", g.retryBaseDelay(), "");
        p.notBelow("DB_RETRY_DEADLINE", g.retryDeadline(), "DB_RETRY_BASE_DELAY", g.retryBaseDelay(), "");
        p.notAbove("DB_COMMAND_TIMEOUT", g.commandTimeout(), "DB_SESSION_TIMEOUT", g.sessionTimeout(), "");
        // only an explicit contradiction is refused: unset, these two are derived from the deadline
        g.poolTimeoutSetting().ifPresent(set -> p.notAbove("DB_POOL_TIMEOUT", set, "DB_REQUEST_TIMEOUT", g.requestTimeout(),
                ": a request would give up before its pool wait ends (leave DB_POOL_TIMEOUT unset to derive it)"));
        g.connectTimeoutSetting().ifPresent(set -> p.notAbove("DB_CONNECT_TIMEOUT", set, "DB_REQUEST_TIMEOUT",
                g.requestTimeout(), " (leave DB_CONNECT_TIMEOUT unset to derive it)"));
    }
}
