package dev.bastion.database.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.bastion.database.monitor.DeadlockMonitor.Severity;
import org.junit.jupiter.api.Test;

/** Severity follows what callers felt; the advice says what happened and who the other party is. */
class DeadlockMonitorTest {

    @Test
    void contentionTheRetriesAbsorbedIsLowOrMediumNeverHigh() {
        assertEquals(Severity.NONE, DeadlockMonitor.severity(0, 0));
        assertEquals(Severity.LOW, DeadlockMonitor.severity(1, 0));
        assertEquals(Severity.LOW, DeadlockMonitor.severity(DeadlockMonitor.HIGH_PER_HOUR - 1, 0));
        assertEquals(Severity.MEDIUM, DeadlockMonitor.severity(500, 0));
    }

    @Test
    void contentionThatReachedCallersIsMediumOrHigh() {
        assertEquals(Severity.MEDIUM, DeadlockMonitor.severity(3, 1));
        assertEquals(Severity.HIGH, DeadlockMonitor.severity(DeadlockMonitor.HIGH_PER_HOUR, 1));
        assertEquals(Severity.HIGH, DeadlockMonitor.severity(DeadlockMonitor.MEDIUM_PER_HOUR, DeadlockMonitor.MEDIUM_PER_HOUR));
    }

    @Test
    void theAdviceStartsWithWhatHappened() {
        Map<String, Long> byOperation = new LinkedHashMap<>();
        byOperation.put("customer.transfer", 40L);
        List<String> absorbed = DeadlockMonitor.recommendations(40, 0, 0, byOperation);
        assertTrue(absorbed.get(0).contains("40 deadlock(s)") && absorbed.get(0).contains("no caller saw an error"), absorbed.get(0));
        assertTrue(absorbed.stream().anyMatch(a -> a.contains("another client")), absorbed.toString());
        assertTrue(absorbed.stream().noneMatch(a -> a.startsWith("Serialization")), "no serialization advice without any");

        List<String> reached = DeadlockMonitor.recommendations(12, 2, 12, Map.of("note.create", 12L));
        assertTrue(reached.get(0).contains("10 absorbed by retries, 2 reached callers"), reached.get(0));
        assertTrue(reached.stream().anyMatch(a -> a.startsWith("Serialization")));
        assertTrue(reached.stream().noneMatch(a -> a.startsWith("Deadlocks need")), "no deadlock advice without deadlocks");
    }
}
