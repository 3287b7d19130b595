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
    void eachBackoffDoublesUpToItsCapWithinAJitterOfTheBaseAndNeverOutlastsWhatTheBudgetAllowed() {
        // base 100 ms, cap 400 ms: 100, 200, 400, 400 ms, each ± 100 ms
        RetryPolicy policy = new RetryPolicy(5, 5, Duration.ofSeconds(10), Duration.ofMillis(100), Duration.ofMillis(400));
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        long[] centres = {100, 200, 400, 400};
        for (int retriesSoFar = 0; retriesSoFar < centres.length; retriesSoFar++) {
            long lowest = Long.MAX_VALUE;
            long highest = 0;
            for (int i = 0; i < 2_000; i++) {
                long millis = policy.backoffMillis(retriesSoFar, random);
                lowest = Math.min(lowest, millis);
                highest = Math.max(highest, millis);
            }
            assertTrue(lowest >= Math.max(1, centres[retriesSoFar] - 100) && lowest < centres[retriesSoFar] - 50,
                    "retry " + (retriesSoFar + 1) + ": lowest " + lowest);
            assertTrue(highest <= centres[retriesSoFar] + 100 && highest > centres[retriesSoFar] + 50,
                    "retry " + (retriesSoFar + 1) + ": highest " + highest);
            assertTrue(highest * 1_000_000 <= policy.longestBackoffNanos(retriesSoFar), "the budget's bound holds");
        }
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
