package dev.bastion.database.monitor;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.FailureKind;
import dev.bastion.database.TransactionListener;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

/**
 * Deadlocks and serialization failures: how often, where, whether retries absorbed them, how bad
 * it is, and what would prevent them. A listener of the unit of work of its own; observes only,
 * requests never wait on it.
 */
@Singleton
public class ContentionMonitor implements TransactionListener {

    /** Above this many contention events per hour the severity is high. */
    static final long HIGH_PER_HOUR = 30;
    /** Above this many per hour it is medium; below, low. */
    static final long MEDIUM_PER_HOUR = 5;

    private final DatabaseMeters meters;
    private final SlidingWindow all;
    private final SlidingWindow gaveUp;
    private final SlidingWindow serialization;
    private final Map<String, SlidingWindow> byOperation = new ConcurrentHashMap<>();
    private final RecentEvents<ContentionEvent> recent = new RecentEvents<>(100);
    private final Clock clock;

    @Inject
    public ContentionMonitor(DatabaseMeters meters) {
        this(meters, Clock.systemUTC());
    }

    /** With a clock the test moves, to see events leave the one-hour and 24-hour windows. */
    ContentionMonitor(MeterRegistry registry, Clock clock) {
        this(new DatabaseMeters(registry), clock);
    }

    private ContentionMonitor(DatabaseMeters meters, Clock clock) {
        this.meters = meters;
        this.clock = clock;
        this.all = new SlidingWindow(clock);
        this.gaveUp = new SlidingWindow(clock);
        this.serialization = new SlidingWindow(clock);
    }

    @Override
    public void attemptFailed(String operation, DatabaseFailure failure, int attempt, boolean willRetry) {
        FailureKind kind = failure.kind();
        if (kind.isContention()) {
            record(new ContentionEvent(Instant.now(clock), operation, kind, failure.sqlState(), failure.table(), attempt,
                    willRetry ? ContentionEvent.Outcome.RETRIED : ContentionEvent.Outcome.GAVE_UP));
        }
    }

    public void record(ContentionEvent event) {
        all.increment();
        if (event.outcome() == ContentionEvent.Outcome.GAVE_UP) {
            gaveUp.increment();
        }
        if (event.kind() == FailureKind.SERIALIZATION_FAILURE) {
            serialization.increment();
        }
        byOperation.computeIfAbsent(event.operation(), op -> new SlidingWindow(clock)).increment();
        recent.add(event);
        meters.contention(event.kind().name().toLowerCase(), event.outcome().name().toLowerCase());
    }

    public ContentionStatistics statistics() {
        long lastHour = all.sum(Duration.ofHours(1));
        long last24h = all.sum(Duration.ofHours(24));
        long gaveUp24h = gaveUp.sum(Duration.ofHours(24));
        Map<String, Long> operations = new LinkedHashMap<>();
        byOperation.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), e.getValue().sum(Duration.ofHours(24))))
                .filter(e -> e.getValue() > 0)
                .sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()))
                .forEach(e -> operations.put(e.getKey(), e.getValue()));
        Severity severity = severity(lastHour, gaveUp.sum(Duration.ofHours(1)));
        return new ContentionStatistics(lastHour, last24h, last24h - gaveUp24h, gaveUp24h,
                serialization.sum(Duration.ofHours(24)), severity, operations,
                recommendations(last24h, gaveUp24h, serialization.sum(Duration.ofHours(24)), operations),
                recent.newestFirst(20));
    }

    /**
     * How bad the last hour was for callers: contention the retries absorbed costs latency only
     * (at most medium, when it is frequent), contention that reached callers as 503s is what hurts.
     */
    static Severity severity(long lastHour, long gaveUpLastHour) {
        if (gaveUpLastHour >= MEDIUM_PER_HOUR || gaveUpLastHour > 0 && lastHour >= HIGH_PER_HOUR) {
            return Severity.HIGH;
        }
        if (gaveUpLastHour > 0 || lastHour >= HIGH_PER_HOUR) {
            return Severity.MEDIUM;
        }
        return lastHour > 0 ? Severity.LOW : Severity.NONE;
    }

    static List<String> recommendations(long total, long gaveUp, long serializationFailures, Map<String, Long> byOperation) {
        List<String> advice = new ArrayList<>();
        if (total == 0) {
            return advice;
        }
        long deadlocks = total - serializationFailures;
        advice.add("Last 24 h: " + deadlocks + " deadlock(s) and " + serializationFailures + " serialization failure(s); "
                + (gaveUp == 0
                ? "every one was absorbed by running the whole transaction again, no caller saw an error."
                : (total - gaveUp) + " absorbed by retries, " + gaveUp + " reached callers as 503 after all retries."));
        byOperation.entrySet().stream().findFirst().ifPresent(top -> {
            long share = Math.round(100.0 * top.getValue() / total);
            if (share >= 50) {
                advice.add("'" + top.getKey() + "' is involved in " + share + "% of them: the rows it touches are "
                        + "where other transactions collide with it.");
            }
        });
        if (deadlocks > 0) {
            advice.add("Deadlocks need two transactions locking the same rows in opposite orders. The service's own "
                    + "multi-row writes lock in ascending id order and cannot deadlock each other, so the other party "
                    + "is another client (a batch job, a migration, a manual session): find it with "
                    + "/admin/database/diagnostics (lock waits and their blockers) and make it take its row locks up front "
                    + "with SELECT ... FOR UPDATE in ascending id order.");
        }
        if (serializationFailures > 0) {
            advice.add("Serialization failures come from SERIALIZABLE transactions that read what a concurrent one "
                    + "writes; they are retried on fresh data. If they reach callers, keep those transactions short "
                    + "or spread their writes over more rows.");
        }
        if (gaveUp > 0) {
            advice.add(gaveUp + " request(s) failed after all retries: reduce contention on hot rows, or raise "
                    + "DB_DEADLOCK_RETRY_COUNT if the conflicts are short-lived.");
        }
        advice.add("Long transactions hold locks longer: check /admin/database/diagnostics for long-running and "
                + "idle-in-transaction sessions.");
        return advice;
    }

    /** How bad contention is now; lower-case only where it is written as JSON. */
    public enum Severity {
        NONE, LOW, MEDIUM, HIGH;

        @com.fasterxml.jackson.annotation.JsonValue
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
