package dev.bastion.database.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.FailureKind;
import dev.bastion.testing.ConfigMappings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import org.junit.jupiter.api.Test;

/** The figures the admin API reports say what they count, and nothing they do not. */
class TransactionEventsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final TransactionEvents events = new TransactionEvents(registry, () -> CircuitBreakerState.CLOSED,
            ConfigMappings.defaults(DatabaseSettings.class));

    private static DatabaseFailure failure(FailureKind kind, String sqlState) {
        return new DatabaseFailure(kind, sqlState, null, null, null);
    }

    @Test
    void recoveryRateIsAbsentWhenNothingWasRetried() {
        events.unitSucceeded("customer.get", 1, 1_000_000);
        events.unitFailed("customer.create", failure(FailureKind.UNIQUE_VIOLATION, "23505"), 1, 1_000_000);
        assertNull(events.statistics().recoverySuccessRate(), "no retry happened: there is no rate to report");
        assertEquals(0, events.statistics().retried24h());
    }

    @Test
    void recoveryRateIsTheShareOfRetriedUnitsThatSucceeded() {
        events.unitSucceeded("customer.transfer", 2, 1_000_000);
        events.unitSucceeded("customer.transfer", 3, 1_000_000);
        events.unitFailed("customer.transfer", failure(FailureKind.DEADLOCK, "40P01"), 6, 1_000_000);
        events.unitSucceeded("customer.transfer", 1, 1_000_000);
        assertEquals(2.0 / 3, events.statistics().recoverySuccessRate(), 1e-9);
    }

    @Test
    void onlyServerSideFailuresCountAsErrors() {
        events.unitFailed("customer.create", failure(FailureKind.UNIQUE_VIOLATION, "23505"), 1, 1_000_000);
        events.unitFailed("customer.update", failure(FailureKind.OPTIMISTIC_LOCK, null), 1, 1_000_000);
        events.unitFailed("note.create", failure(FailureKind.FOREIGN_KEY_VIOLATION, "23503"), 1, 1_000_000);
        events.unitFailed("customer.adjust", failure(FailureKind.CHECK_VIOLATION, "23514"), 1, 1_000_000);
        assertEquals(0, events.statistics().serverFailuresLastHour(), "409/422 outcomes are not database errors");

        events.unitFailed("customer.get", failure(FailureKind.CONNECTION, "08006"), 3, 1_000_000);
        events.unitFailed("customer.get", failure(FailureKind.STATEMENT_TIMEOUT, "57014"), 1, 1_000_000);
        assertEquals(2, events.statistics().serverFailuresLastHour());
        assertEquals(6, events.statistics().units24h(), "every unit still counts as a unit");
    }

    @Test
    void theBreakerStateTravelsAsItsEnumAndIsLowerCasedOnlyInTheJson() throws Exception {
        assertEquals(CircuitBreakerState.CLOSED, events.statistics().breaker());
        String json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(events.statistics());
        assertEquals(true, json.contains("\"breaker_state\":\"closed\""), json);
        assertEquals(false, json.contains("\"breaker\""), json);
    }

    @Test
    void durationsAreThoseOfWholeUnitsOfWork() {
        events.unitSucceeded("customer.get", 1, 2_000_000);
        events.unitSucceeded("customer.transfer", 2, 1_500_000_000L);
        assertEquals((2.0 + 1500.0) / 2, events.statistics().avgDurationMs(), 1e-6);
        assertEquals(1, events.statistics().slow24h(), "only the unit over the 1 s threshold is slow");
    }
}
