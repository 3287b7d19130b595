package dev.bastion.database.monitor;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.TransactionListener;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/**
 * Finds transactions (and so pooled connections) held longer than DB_LEAK_THRESHOLD: the unit of
 * work registers every attempt while it runs, and a timer off the request path reports each one
 * that overstays, once, naming the operation that holds it. PostgreSQL's statement and
 * idle-in-transaction timeouts end such work; this makes it visible before and after they do.
 */
@Singleton
public class LongTransactionDetector implements TransactionListener {

    private static final Logger LOG = Logger.getLogger(LongTransactionDetector.class);

    private final Map<Long, Running> running = new ConcurrentHashMap<>();
    private final DatabaseMeters meters;
    private final Duration threshold;
    private final Clock clock;
    private final SlidingWindow reported;

    @Inject
    public LongTransactionDetector(DatabaseMeters meters, DatabaseSettings guardrails) {
        this(meters, guardrails.leakThreshold(), Clock.systemUTC());
    }

    LongTransactionDetector(MeterRegistry registry, Duration threshold, Clock clock) {
        this(new DatabaseMeters(registry), threshold, clock);
    }

    private LongTransactionDetector(DatabaseMeters meters, Duration threshold, Clock clock) {
        this.meters = meters;
        this.threshold = threshold;
        this.clock = clock;
        this.reported = new SlidingWindow(clock);
        meters.bindOpenTransactions(running);
    }

    @Override
    public void attemptStarted(long attemptId, String operation, int attempt) {
        running.put(attemptId, new Running(operation, attempt, Instant.now(clock)));
    }

    @Override
    public void attemptEnded(long attemptId) {
        running.remove(attemptId);
    }

    /** Reports attempts past the threshold that were not reported yet. */
    public void scan() {
        Instant now = Instant.now(clock);
        running.values().forEach(r -> {
            Duration held = Duration.between(r.since, now);
            if (held.compareTo(threshold) > 0 && !r.reported) {
                r.reported = true;
                reported.increment();
                meters.longTransaction(r.operation);
                LOG.warnf("Transaction of '%s' (attempt %d) has held its connection for %d ms, over the %d ms leak "
                        + "threshold", r.operation, r.attempt, held.toMillis(), threshold.toMillis());
            }
        });
    }

    /** Attempts running now, longest first. */
    public List<OpenTransaction> open() {
        Instant now = Instant.now(clock);
        return running.values().stream()
                .map(r -> new OpenTransaction(r.operation, r.attempt, r.since, Duration.between(r.since, now).toMillis(), r.reported))
                .sorted(Comparator.comparingLong(OpenTransaction::heldMs).reversed())
                .toList();
    }

    public long reportedLast24h() {
        return reported.sum(Duration.ofHours(24));
    }

    public Duration threshold() {
        return threshold;
    }

    void schedule(@Observes StartupEvent start, Vertx vertx) {
        long period = Math.max(100, Math.min(5_000, threshold.toMillis() / 4));
        vertx.setPeriodic(period, id -> scan());
    }

    /** A unit of work that holds a session right now. */
    @RegisterForReflection // serialised to JSON inside a generic or untyped response
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record OpenTransaction(String operation, int attempt, Instant since, long heldMs, boolean overThreshold) {
    }

    private static final class Running {
        final String operation;
        final int attempt;
        final Instant since;
        volatile boolean reported;

        Running(String operation, int attempt, Instant since) {
            this.operation = operation;
            this.attempt = attempt;
            this.since = since;
        }
    }
}
