package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RetryBudgetTest {

    @Test
    void contentionAndOtherTransientFailuresHaveSeparateBudgets() {
        RetryBudget budget = new RetryBudget(2, 1, java.time.Duration.ofMinutes(1));
        assertTrue(budget.trySpend(FailureKind.DEADLOCK));
        assertTrue(budget.trySpend(FailureKind.SERIALIZATION_FAILURE));
        assertFalse(budget.trySpend(FailureKind.DEADLOCK), "contention budget of 2 spent");
        assertTrue(budget.trySpend(FailureKind.CONNECTION), "the other budget is untouched");
        assertFalse(budget.trySpend(FailureKind.CONNECTION));
    }

    @Test
    void noRetryIsGrantedPastTheDeadline() {
        RetryBudget budget = new RetryBudget(5, 5, java.time.Duration.ZERO);
        assertFalse(budget.trySpend(FailureKind.DEADLOCK));
        assertFalse(budget.trySpend(FailureKind.CONNECTION));
    }

    @Test
    void nonRetryableKindsNeverSpend() {
        RetryBudget budget = new RetryBudget(5, 5, java.time.Duration.ofMinutes(1));
        assertFalse(budget.trySpend(FailureKind.UNIQUE_VIOLATION));
        assertFalse(budget.trySpend(FailureKind.COMMIT_OUTCOME_UNKNOWN));
        assertEquals(1, budget.beginAttempt());
        assertEquals(2, budget.beginAttempt());
    }
}
