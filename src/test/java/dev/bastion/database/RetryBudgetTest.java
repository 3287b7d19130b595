package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import org.junit.jupiter.api.Test;

class RetryBudgetTest {

    @Test
    void contentionAndOtherTransientFailuresHaveSeparateBudgets() {
        RetryBudget budget = budget(2, 1, Duration.ofMinutes(1));
        assertTrue(budget.trySpend(FailureKind.DEADLOCK));
        assertTrue(budget.trySpend(FailureKind.SERIALIZATION_FAILURE));
        assertFalse(budget.trySpend(FailureKind.DEADLOCK), "contention budget of 2 spent");
        assertTrue(budget.trySpend(FailureKind.CONNECTION), "the other budget is untouched");
        assertFalse(budget.trySpend(FailureKind.CONNECTION));
    }

    @Test
    void noRetryIsGrantedPastTheDeadline() {
        RetryBudget budget = budget(5, 5, Duration.ZERO);
        assertFalse(budget.trySpend(FailureKind.DEADLOCK));
        assertFalse(budget.trySpend(FailureKind.CONNECTION));
    }

    @Test
    void nonRetryableKindsNeverSpend() {
        RetryBudget budget = budget(5, 5, Duration.ofMinutes(1));
        assertFalse(budget.trySpend(FailureKind.UNIQUE_VIOLATION));
        assertFalse(budget.trySpend(FailureKind.COMMIT_OUTCOME_UNKNOWN));
        assertEquals(1, budget.beginAttempt(new CommitGate(System.nanoTime() + 1_000_000_000L)));
        assertEquals(2, budget.beginAttempt(new CommitGate(System.nanoTime() + 1_000_000_000L)));
    }

    @Test
    void noRetryIsGrantedWhenItsBackoffCouldNotEndBeforeTheDeadline() {
        // backoff 1 s, 2 s, 4 s (+ up to 1 s jitter) against a 5 s deadline: the first two fit, the third does not
        RetryBudget budget = new RetryBudget(new RetryPolicy(5, 5, Duration.ofSeconds(5), Duration.ofSeconds(1), Duration.ofSeconds(10)));
        assertTrue(budget.trySpend(FailureKind.CONNECTION));
        assertTrue(budget.trySpend(FailureKind.READ_ONLY_NODE));
        assertFalse(budget.trySpend(FailureKind.DEADLOCK), "a 4 s backoff would end past the deadline");
    }

    private static RetryBudget budget(int contention, int other, Duration deadline) {
        return new RetryBudget(new RetryPolicy(contention, other, deadline, Duration.ZERO, Duration.ZERO));
    }
}
