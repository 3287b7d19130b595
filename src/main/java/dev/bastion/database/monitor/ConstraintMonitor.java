package dev.bastion.database.monitor;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.TransactionListener;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

/**
 * Constraint violations PostgreSQL reported, per kind and constraint, whether they failed an attempt
 * or a nested step (a savepoint); a listener of the unit of work of its own. Constraint names come
 * from the schema (a fixed, small set), so they are safe as metric tags.
 */
@Singleton
public class ConstraintMonitor implements TransactionListener {

    private final DatabaseMeters meters;
    private final Clock clock = Clock.systemUTC();
    private final Map<String, SlidingWindow> byKind = new ConcurrentHashMap<>();
    private final RecentEvents<ConstraintViolationEvent> recent = new RecentEvents<>(100);

    @Inject
    public ConstraintMonitor(DatabaseMeters meters) {
        this.meters = meters;
    }

    ConstraintMonitor(MeterRegistry registry) {
        this(new DatabaseMeters(registry));
    }

    @Override
    public void attemptFailed(String operation, DatabaseFailure failure, int attempt, boolean willRetry) {
        if (failure.kind().isConstraintViolation()) {
            record(new ConstraintViolationEvent(Instant.now(clock), operation, failure.kind().name(), failure.constraint()));
        }
    }

    @Override
    public void savepointRolledBack(String operation, DatabaseFailure failure) {
        attemptFailed(operation, failure, 0, false);
    }

    public void record(ConstraintViolationEvent event) {
        byKind.computeIfAbsent(event.kind(), k -> new SlidingWindow(clock)).increment();
        recent.add(event);
        meters.constraintViolated(event.kind().toLowerCase(), event.constraint() == null ? "unknown" : event.constraint());
    }

    /** Violations per kind over the last 24 hours. */
    public Map<String, Long> last24hByKind() {
        Map<String, Long> out = new TreeMap<>();
        byKind.forEach((kind, window) -> out.put(kind.toLowerCase(), window.sum(Duration.ofHours(24))));
        return out;
    }

    public List<ConstraintViolationEvent> recent(int limit) {
        return recent.newestFirst(limit);
    }
}
