package dev.bastion.database.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import dev.bastion.testing.ManualClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** A transaction is reported once it is held longer than the leak threshold, and only once. */
class LongTransactionDetectorTest {

    private static final Duration THRESHOLD = Duration.ofSeconds(5);

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ManualClock clock = new ManualClock(Instant.parse("2026-11-29T08:00:00Z"));
    private final LongTransactionDetector detector = new LongTransactionDetector(registry, THRESHOLD, clock);

    private double reportedFor(String operation) {
        var counter = registry.find("bastion.db.long.transactions").tag("operation", operation).counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void heldExactlyTheThresholdIsNotReportedAMillisecondMoreIsOnce() {
        detector.attemptStarted(1, "customer.transfer", 1);
        clock.advance(THRESHOLD);
        detector.scan();
        assertEquals(0, reportedFor("customer.transfer"));
        assertFalse(detector.open().get(0).overThreshold());

        clock.advance(Duration.ofMillis(1));
        detector.scan();
        detector.scan();
        clock.advance(Duration.ofMinutes(1));
        detector.scan();
        assertEquals(1, reportedFor("customer.transfer"), "reported once, however long it stays");
        assertEquals(1, detector.reportedLast24h());
        assertTrue(detector.open().get(0).overThreshold());
        assertEquals(THRESHOLD, detector.threshold());
    }

    @Test
    void openTransactionsAreListedLongestFirstUntilTheyEnd() {
        detector.attemptStarted(1, "customer.import", 2);
        clock.advance(Duration.ofSeconds(3));
        detector.attemptStarted(2, "customer.get", 1);
        clock.advance(Duration.ofSeconds(1));

        List<LongTransactionDetector.OpenTransaction> open = detector.open();
        assertEquals(List.of("customer.import", "customer.get"), open.stream().map(LongTransactionDetector.OpenTransaction::operation).toList());
        assertEquals(4000, open.get(0).heldMs());
        assertEquals(2, open.get(0).attempt());
        assertEquals(Instant.parse("2026-11-29T08:00:00Z"), open.get(0).since());
        assertEquals(2, registry.get("bastion.db.transactions.open").gauge().value(), 0.001);

        detector.attemptEnded(1);
        detector.attemptEnded(2);
        clock.advance(Duration.ofMinutes(1));
        detector.scan();
        assertEquals(List.of(), detector.open());
        assertEquals(0, registry.get("bastion.db.transactions.open").gauge().value(), 0.001);
        assertEquals(0, detector.reportedLast24h(), "an attempt that ended in time is never reported");
    }

    @Test
    void reportsAreCountedPerOperationOverTheLastDay() {
        detector.attemptStarted(1, "customer.transfer", 1);
        detector.attemptStarted(2, "customer.transfer", 2);
        detector.attemptStarted(3, "note.create", 1);
        clock.advance(THRESHOLD.plusSeconds(1));
        detector.scan();
        assertEquals(2, reportedFor("customer.transfer"));
        assertEquals(1, reportedFor("note.create"));
        assertEquals(3, detector.reportedLast24h());

        clock.advance(Duration.ofHours(24));
        assertEquals(0, detector.reportedLast24h(), "the day's window moved on");
    }
}
