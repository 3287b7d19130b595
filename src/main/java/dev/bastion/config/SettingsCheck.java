package dev.bastion.config;

import static java.time.Duration.ofDays;
import static java.time.Duration.ofHours;
import static java.time.Duration.ofMillis;
import static java.time.Duration.ofMinutes;
import static java.time.Duration.ofSeconds;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.idempotency.IdempotencySettings;
import dev.bastion.logging.LogSettings;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.interceptor.Interceptor;

/**
 * The one place where the service's own settings are checked: each value's range and the relations
 * between values. A bad configuration stops start-up with one message naming every bad environment
 * variable.
 * <p>
 * Plain Java on purpose: Bean Validation constraints on the {@code @ConfigMapping}s made Quarkus
 * bootstrap Hibernate Validator for its config validator, about a third of start-up CPU. The
 * database pool is built during Hibernate Reactive's boot, before {@link StartupEvent}, so the pool
 * creator runs this check first; the start-up observer covers the rest.
 */
@ApplicationScoped
public class SettingsCheck {

    private final DatabaseSettings database;
    private final IdempotencySettings idempotency;
    private final LogSettings log;

    public SettingsCheck(DatabaseSettings database, IdempotencySettings idempotency, LogSettings log) {
        this.database = database;
        this.idempotency = idempotency;
        this.log = log;
    }

    // before every other start-up observer: a pod with bad settings must not migrate the schema first
    void onStart(@Observes @Priority(Interceptor.Priority.LIBRARY_BEFORE) StartupEvent start) {
        refuseInvalid();
    }

    /** Throws, naming every bad variable at once, when any setting is out of range or contradicts another. */
    public void refuseInvalid() {
        List<String> problems = problems(database, idempotency, log);
        if (!problems.isEmpty()) {
            throw new IllegalStateException("Invalid configuration: " + String.join("; ", problems));
        }
    }

    /** Everything wrong with these settings, in the order of the checks below; empty when nothing is. */
    public static List<String> problems(DatabaseSettings database, IdempotencySettings idempotency, LogSettings log) {
        List<String> problems = new ArrayList<>(problems(database));
        problems.addAll(problems(idempotency));
        problems.addAll(problems(log));
        return problems;
    }

    /** What is wrong with the DB_* settings; empty when nothing is. */
    public static List<String> problems(DatabaseSettings g) {
        List<String> p = new ArrayList<>();
        between(p, "DB_POOL_SIZE", g.poolSize(), 1, 1000);
        between(p, "DB_MAX_OVERFLOW", g.maxOverflow(), 0, 1000);
        between(p, "DB_POOL_TIMEOUT", g.poolTimeout(), ofMillis(1), ofHours(1));
        between(p, "DB_POOL_WAIT_QUEUE", g.poolWaitQueue(), 0, 100_000);
        between(p, "DB_MAX_CONNECTIONS_PER_ROW", g.maxConnectionsPerRow(), 1, 1000);
        atLeast(p, "DB_POOL_RECYCLE", g.poolRecycle(), ofSeconds(1));
        atLeast(p, "DB_POOL_IDLE_TIMEOUT", g.poolIdleTimeout(), ofSeconds(1));
        between(p, "DB_CONNECT_TIMEOUT", g.connectTimeout(), ofMillis(100), ofMinutes(10));
        atLeast(p, "DB_COMMAND_TIMEOUT", g.commandTimeout(), ofMillis(100));
        between(p, "DB_MIGRATION_TIMEOUT", g.migrationTimeout(), ofSeconds(1), ofDays(1));
        between(p, "DB_REQUEST_TIMEOUT", g.requestTimeout(), ofMillis(100), ofHours(1));
        between(p, "DB_TCP_KEEPALIVE_IDLE", g.tcpKeepaliveIdle(), 1, 7200);
        between(p, "DB_TCP_KEEPALIVE_INTERVAL", g.tcpKeepaliveInterval(), 1, 600);
        between(p, "DB_TCP_KEEPALIVE_COUNT", g.tcpKeepaliveCount(), 1, 100);
        between(p, "DB_TCP_USER_TIMEOUT", g.tcpUserTimeout(), ofSeconds(1), ofHours(1));
        atLeast(p, "DB_SESSION_TIMEOUT", g.sessionTimeout(), ofSeconds(1));
        between(p, "DB_MAX_RETRIES", g.maxRetries(), 0, 100);
        between(p, "DB_DEADLOCK_RETRY_COUNT", g.deadlockRetryCount(), 0, 100);
        between(p, "DB_RETRY_BASE_DELAY", g.retryBaseDelay(), ofMillis(1), ofMinutes(1));
        between(p, "DB_RETRY_MAX_DELAY", g.retryMaxDelay(), ofMillis(1), ofMinutes(10));
        atLeast(p, "DB_RETRY_DEADLINE", g.retryDeadline(), ofMillis(10));
        atLeast(p, "DB_LEAK_THRESHOLD", g.leakThreshold(), ofMillis(10));
        between(p, "DB_BREAKER_FAILURE_RATIO", g.breakerFailureRatio(), 0.01, 1);
        atLeast(p, "DB_BREAKER_REQUEST_VOLUME", g.breakerRequestVolume(), 1);
        atLeast(p, "DB_BREAKER_DELAY", g.breakerDelay(), ofMillis(10));
        between(p, "BASTION_DB_PROBE_TIMEOUT", g.probeTimeout(), ofMillis(10), ofMinutes(10));
        atLeast(p, "BASTION_DB_SLOW_THRESHOLD", g.slowThreshold(), ofMillis(1));

        notBelow(p, "DB_RETRY_MAX_DELAY", g.retryMaxDelay(), "DB_RETRY_BASE_DELAY", g.retryBaseDelay(), "");
        notBelow(p, "DB_RETRY_DEADLINE", g.retryDeadline(), "DB_RETRY_BASE_DELAY", g.retryBaseDelay(), "");
        notAbove(p, "DB_COMMAND_TIMEOUT", g.commandTimeout(), "DB_SESSION_TIMEOUT", g.sessionTimeout(), "");
        // only an explicit contradiction is refused: unset, these two are derived from the deadline
        g.poolTimeoutSetting().ifPresent(set -> notAbove(p, "DB_POOL_TIMEOUT", set, "DB_REQUEST_TIMEOUT", g.requestTimeout(),
                ": a request would give up before its pool wait ends (leave DB_POOL_TIMEOUT unset to derive it)"));
        g.connectTimeoutSetting().ifPresent(set -> notAbove(p, "DB_CONNECT_TIMEOUT", set, "DB_REQUEST_TIMEOUT",
                g.requestTimeout(), " (leave DB_CONNECT_TIMEOUT unset to derive it)"));
        return p;
    }

    /** What is wrong with the idempotency settings; empty when nothing is. */
    public static List<String> problems(IdempotencySettings s) {
        List<String> p = new ArrayList<>();
        if (s.ttl().compareTo(ofSeconds(1)) < 0) {
            p.add("IDEMPOTENCY_TTL must be at least 1 second (a key must outlive the request it protects)");
        }
        if (s.ttl().compareTo(ofDays(365)) > 0) {
            p.add("IDEMPOTENCY_TTL must be at most 31536000 seconds (one year)");
        }
        between(p, "BASTION_IDEMPOTENCY_CLEANUP_BATCH_SIZE", s.cleanupBatchSize(), 1, 100_000);
        between(p, "BASTION_IDEMPOTENCY_CLEANUP_MAX_BATCHES", s.cleanupMaxBatches(), 1, 100_000);
        between(p, "BASTION_IDEMPOTENCY_CLEANUP_INTERVAL", s.cleanupInterval(), ofSeconds(1), ofDays(1));
        return p;
    }

    /** What is wrong with the log settings; empty when nothing is. */
    public static List<String> problems(LogSettings s) {
        List<String> p = new ArrayList<>();
        atLeast(p, "BASTION_LOG_INCIDENT_WINDOW", s.incidentWindow(), ofMillis(1));
        return p;
    }

    // Every bound is inclusive, as the Bean Validation constraints these replace were.

    private static void between(List<String> problems, String name, int value, int min, int max) {
        if (value < min || value > max) {
            problems.add(name + " must be from " + min + " to " + max);
        }
    }

    private static void atLeast(List<String> problems, String name, int value, int min) {
        if (value < min) {
            problems.add(name + " must be at least " + min);
        }
    }

    private static void between(List<String> problems, String name, double value, double min, double max) {
        if (!(value >= min && value <= max)) { // written so that NaN is refused too
            problems.add(name + " must be from " + plain(BigDecimal.valueOf(min)) + " to " + plain(BigDecimal.valueOf(max)));
        }
    }

    private static void between(List<String> problems, String name, Duration value, Duration min, Duration max) {
        if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            problems.add(name + " must be from " + seconds(min) + " to " + seconds(max) + " seconds");
        }
    }

    private static void atLeast(List<String> problems, String name, Duration value, Duration min) {
        if (value.compareTo(min) < 0) {
            problems.add(name + " must be at least " + seconds(min) + (min.equals(ofSeconds(1)) ? " second" : " seconds"));
        }
    }

    private static void notBelow(List<String> problems, String name, Duration value, String otherName, Duration other,
            String why) {
        if (value.compareTo(other) < 0) {
            problems.add(name + " (" + SecondsConverter.format(value) + ") must not be below " + otherName + " ("
                    + SecondsConverter.format(other) + ")" + why);
        }
    }

    private static void notAbove(List<String> problems, String name, Duration value, String otherName, Duration other,
            String why) {
        if (value.compareTo(other) > 0) {
            problems.add(name + " (" + SecondsConverter.format(value) + ") must not exceed " + otherName + " ("
                    + SecondsConverter.format(other) + ")" + why);
        }
    }

    /** A bound in seconds as operators write it: 0.001, 1, 3600. */
    private static String seconds(Duration duration) {
        return plain(BigDecimal.valueOf(duration.getSeconds()).add(BigDecimal.valueOf(duration.getNano(), 9)));
    }

    private static String plain(BigDecimal number) {
        return number.stripTrailingZeros().toPlainString();
    }
}
