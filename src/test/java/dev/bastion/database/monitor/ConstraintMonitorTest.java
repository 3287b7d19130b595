package dev.bastion.database.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** Constraint violations are counted per kind, tagged with the schema's constraint name, and kept newest first. */
class ConstraintMonitorTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ConstraintMonitor monitor = new ConstraintMonitor(registry);

    private void record(String kind, String constraint) {
        monitor.record(new ConstraintViolationEvent(Instant.now(), "customer.create", kind, constraint));
    }

    @Test
    void countsPerKindInLowerCaseAndTagsUnnamedConstraintsAsUnknown() {
        record("UNIQUE_VIOLATION", "customer_email_lower_key");
        record("UNIQUE_VIOLATION", "customer_email_lower_key");
        record("CHECK_VIOLATION", null);

        assertEquals(Map.of("unique_violation", 2L, "check_violation", 1L), monitor.last24hByKind());
        assertEquals(2, registry.get("bastion.db.constraint.violations").tag("kind", "unique_violation")
                .tag("constraint", "customer_email_lower_key").counter().count(), 0.001);
        assertEquals(1, registry.get("bastion.db.constraint.violations").tag("kind", "check_violation")
                .tag("constraint", "unknown").counter().count(), 0.001);
    }

    @Test
    void recentViolationsAreNewestFirstAndBounded() {
        for (int i = 0; i < 150; i++) {
            record("UNIQUE_VIOLATION", "c" + i);
        }
        List<ConstraintViolationEvent> recent = monitor.recent(200);
        assertEquals(100, recent.size(), "at most the last hundred are kept");
        assertEquals("c149", recent.get(0).constraint());
        assertEquals(List.of("c149", "c148"), monitor.recent(2).stream().map(ConstraintViolationEvent::constraint).toList());
    }
}
