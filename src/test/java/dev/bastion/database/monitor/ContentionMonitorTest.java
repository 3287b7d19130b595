package dev.bastion.database.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.bastion.database.monitor.ContentionMonitor.Severity;
import dev.bastion.testing.ManualClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** Severity follows what callers felt; the advice says what happened and who the other party is. */
class ContentionMonitorTest {

    @Test
    void contentionTheRetriesAbsorbedIsLowOrMediumNeverHigh() {
        assertEquals(Severity.NONE, ContentionMonitor.severity(0, 0));
        assertEquals(Severity.LOW, ContentionMonitor.severity(1, 0));
        assertEquals(Severity.LOW, ContentionMonitor.severity(ContentionMonitor.HIGH_PER_HOUR - 1, 0));
        assertEquals(Severity.MEDIUM, ContentionMonitor.severity(500, 0));
    }

    @Test
    void contentionThatReachedCallersIsMediumOrHigh() {
        assertEquals(Severity.MEDIUM, ContentionMonitor.severity(3, 1));
        assertEquals(Severity.HIGH, ContentionMonitor.severity(ContentionMonitor.HIGH_PER_HOUR, 1));
        assertEquals(Severity.HIGH, ContentionMonitor.severity(ContentionMonitor.MEDIUM_PER_HOUR, ContentionMonitor.MEDIUM_PER_HOUR));
    }

    @Test
    void theAdviceStartsWithWhatHappened() {
        Map<String, Long> byOperation = new LinkedHashMap<>();
        byOperation.put("customer.transfer", 40L);
        List<String> absorbed = ContentionMonitor.recommendations(40, 0, 0, byOperation);
        assertTrue(absorbed.get(0).contains("40 deadlock(s)") && absorbed.get(0).contains("no caller saw an error"), absorbed.get(0));
        assertTrue(absorbed.stream().anyMatch(a -> a.contains("another client")), absorbed.toString());
        assertTrue(absorbed.stream().noneMatch(a -> a.startsWith("Serialization")), "no serialization advice without any");

        List<String> reached = ContentionMonitor.recommendations(12, 2, 12, Map.of("note.create", 12L));
        assertTrue(reached.get(0).contains("10 absorbed by retries, 2 reached callers"), reached.get(0));
        assertTrue(reached.stream().anyMatch(a -> a.startsWith("Serialization")));
        assertTrue(reached.stream().noneMatch(a -> a.startsWith("Deadlocks need")), "no deadlock advice without deadlocks");
    }

    @Test
    void severityBoundaries() {
        long high = ContentionMonitor.HIGH_PER_HOUR;
        long medium = ContentionMonitor.MEDIUM_PER_HOUR;
        assertEquals(Severity.MEDIUM, ContentionMonitor.severity(high, 0), "frequent but absorbed: medium at the high mark");
        assertEquals(Severity.MEDIUM, ContentionMonitor.severity(high - 1, 1), "one 503 below the high mark");
        assertEquals(Severity.MEDIUM, ContentionMonitor.severity(medium - 1, medium - 1), "503s just below the medium mark");
        assertEquals(Severity.HIGH, ContentionMonitor.severity(medium, medium), "503s at the medium mark");
        assertEquals(List.of("none", "low", "medium", "high"),
                Arrays.stream(Severity.values()).map(Severity::label).toList(), "the labels the admin API shows");
    }

    @Test
    void noContentionNoAdvice() {
        assertEquals(List.of(), ContentionMonitor.recommendations(0, 0, 0, Map.of()));
    }

    @Test
    void anOperationIsNamedWhenItIsInvolvedInAtLeastHalfOfThem() {
        assertTrue(adviceFor(100, 50).stream().anyMatch(a -> a.startsWith("'customer.transfer' is involved in 50%")));
        assertTrue(adviceFor(1000, 495).stream().anyMatch(a -> a.contains("involved in 50%")), "49.5% rounds to 50%");
        assertTrue(adviceFor(1000, 494).stream().noneMatch(a -> a.contains("involved in")), "49.4% is not named");
        assertTrue(adviceFor(100, 49).stream().noneMatch(a -> a.contains("involved in")));
    }

    private static List<String> adviceFor(long total, long topOperation) {
        Map<String, Long> byOperation = new LinkedHashMap<>();
        byOperation.put("customer.transfer", topOperation);
        byOperation.put("note.create", total - topOperation);
        return ContentionMonitor.recommendations(total, 0, 0, byOperation);
    }

    @Test
    void eachKindOfContentionGetsItsOwnAdviceAndGivingUpNamesTheRetrySetting() {
        List<String> advice = ContentionMonitor.recommendations(5, 3, 2, Map.of("customer.transfer", 5L));
        assertEquals("Last 24 h: 3 deadlock(s) and 2 serialization failure(s); 2 absorbed by retries, "
                + "3 reached callers as 503 after all retries.", advice.get(0));
        assertTrue(advice.stream().anyMatch(a -> a.startsWith("Deadlocks need two transactions")));
        assertTrue(advice.stream().anyMatch(a -> a.startsWith("Serialization failures come from SERIALIZABLE")));
        assertTrue(advice.stream().anyMatch(a -> a.startsWith("3 request(s) failed after all retries")
                && a.contains("DB_DEADLOCK_RETRY_COUNT")), advice.toString());
        assertTrue(advice.get(advice.size() - 1).startsWith("Long transactions hold locks longer"), "the general advice comes last");

        List<String> absorbed = ContentionMonitor.recommendations(5, 0, 2, Map.of("customer.transfer", 5L));
        assertTrue(absorbed.stream().noneMatch(a -> a.contains("DB_DEADLOCK_RETRY_COUNT")), "nothing failed: no retry advice");
    }

    @Test
    void statisticsCountTheLastHourAndTheLastDayByOperationNewestFirst() {
        var registry = new SimpleMeterRegistry();
        var clock = new ManualClock(Instant.parse("2026-11-29T08:00:00Z"));
        ContentionMonitor monitor = new ContentionMonitor(registry, clock);
        for (int i = 0; i < 3; i++) {
            monitor.record(event(clock, "note.create", "SERIALIZATION_FAILURE", ContentionEvent.Outcome.RETRIED));
        }
        clock.advance(Duration.ofHours(2));
        monitor.record(event(clock, "customer.transfer", "DEADLOCK", ContentionEvent.Outcome.RETRIED));
        monitor.record(event(clock, "customer.transfer", "DEADLOCK", ContentionEvent.Outcome.GAVE_UP));

        ContentionStatistics stats = monitor.statistics();
        assertEquals(2, stats.lastHour());
        assertEquals(5, stats.last24h());
        assertEquals(1, stats.gaveUp24h());
        assertEquals(4, stats.recovered24h());
        assertEquals(3, stats.serializationFailures24h());
        assertEquals(ContentionMonitor.Severity.MEDIUM, stats.severity(), "one 503 in the last hour");
        assertEquals(List.of("note.create", "customer.transfer"), List.copyOf(stats.byOperation24h().keySet()), "most involved first");
        assertEquals(ContentionEvent.Outcome.GAVE_UP, stats.recent().get(0).outcome(), "newest first");
        assertEquals(stats.recommendations(), ContentionMonitor.recommendations(5, 1, 3, stats.byOperation24h()));
        assertEquals(2, registry.get("bastion.db.deadlocks").tag("kind", "deadlock").counters().stream()
                .mapToDouble(c -> c.count()).sum(), 0.001);
        assertEquals(1, registry.get("bastion.db.deadlocks").tag("kind", "deadlock").tag("outcome", "gave_up").counter().count(), 0.001);

        clock.advance(Duration.ofHours(23));
        ContentionStatistics dayLater = monitor.statistics();
        assertEquals(2, dayLater.last24h(), "the first three left the 24 h window");
        assertEquals(0, dayLater.lastHour());
        assertEquals(ContentionMonitor.Severity.NONE, dayLater.severity());
        assertEquals(List.of("customer.transfer"), List.copyOf(dayLater.byOperation24h().keySet()));
    }

    private static ContentionEvent event(Clock clock, String operation, String kind, ContentionEvent.Outcome outcome) {
        return new ContentionEvent(clock.instant(), operation, dev.bastion.database.FailureKind.valueOf(kind),
                kind.equals("DEADLOCK") ? "40P01" : "40001",
                "customer", 1, outcome);
    }
}
