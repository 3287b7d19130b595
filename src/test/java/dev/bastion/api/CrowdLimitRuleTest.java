package dev.bastion.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The crowd limit's rule, interval by interval ({@link CrowdLimit.Rule}); the limit at work is {@link CrowdLimitTest}'s. */
class CrowdLimitRuleTest {

    private static final long TARGET = CrowdLimit.TARGET_MICROS * 1000;
    private static final int NONE = CrowdLimit.NONE;
    private static final int FLOOR = 40;

    @Test
    void aCrowdOnQuickLoopsIsNotLimited() {
        CrowdLimit.Rule rule = new CrowdLimit.Rule(FLOOR);
        assertEquals(NONE, rule.next(NONE, TARGET, 5_000, false));
        assertEquals(NONE, rule.next(NONE, 0, 5_000, false));
    }

    @Test
    void slowLoopsWithNoMoreThanTheFloorOnThemAreNotTheCrowdsDoing() {
        CrowdLimit.Rule rule = new CrowdLimit.Rule(FLOOR);
        assertEquals(NONE, rule.next(NONE, 50 * TARGET, FLOOR, false), "20 callers and a GC pause, say");
        assertEquals(120, rule.next(120, 50 * TARGET, FLOOR, false), "the limit stays where it was");
    }

    @Test
    void theLimitFallsInProportionToTheDelayByHalfAtMostAndNotBelowTheFloor() {
        CrowdLimit.Rule rule = new CrowdLimit.Rule(FLOOR);
        assertEquals(NONE, rule.next(NONE, TARGET * 4 / 3, 400, false), "one interval may be a burst");
        assertEquals(300, rule.next(NONE, TARGET * 4 / 3, 400, false), "4/3 the target: three quarters of those on the cores");
        assertEquals(200, rule.next(300, 10 * TARGET, 400, false), "ten times the target: half");
        assertEquals(150, rule.next(150, TARGET * 4 / 3, 400, false), "never above the limit it was");
        assertEquals(FLOOR, rule.next(50, 10 * TARGET, 60, false));
    }

    @Test
    void aBurstThatIsGoneByTheNextIntervalSetsNoLimit() {
        CrowdLimit.Rule rule = new CrowdLimit.Rule(FLOOR);
        assertEquals(NONE, rule.next(NONE, 10 * TARGET, 400, false));
        assertEquals(NONE, rule.next(NONE, 10 * TARGET, 20, false), "the burst went into the admission's queue");
        assertEquals(NONE, rule.next(NONE, 10 * TARGET, 400, false), "the count starts over");
        assertEquals(NONE, rule.next(NONE, 0, 400, false), "quick loops");
        assertEquals(NONE, rule.next(NONE, 10 * TARGET, 400, false));
        assertEquals(200, rule.next(NONE, 10 * TARGET, 400, false), "two intervals in a row: a crowd");
    }

    @Test
    void theLimitRisesWhileItRefusesOnQuickLoops() {
        CrowdLimit.Rule rule = new CrowdLimit.Rule(FLOOR);
        assertEquals(170, rule.next(160, TARGET / 2, 160, true), "by a sixteenth");
        assertEquals(FLOOR + 2, rule.next(FLOOR, TARGET / 2, FLOOR, true));
        assertEquals(160, rule.next(160, TARGET / 2, 160, false), "not refusing: a limit nobody meets tells nothing");
    }

    @Test
    void aLimitLiftsAfterASecondWithoutRefusalsOnceTheCrowdIsGone() {
        CrowdLimit.Rule rule = new CrowdLimit.Rule(FLOOR);
        for (int i = 1; i < CrowdLimit.QUIET_INTERVALS; i++) {
            assertEquals(100, rule.next(100, 0, 10, false), "interval " + i);
        }
        assertEquals(NONE, rule.next(100, 0, 10, false));

        for (int i = 1; i < 3 * CrowdLimit.QUIET_INTERVALS; i++) {
            assertEquals(100, rule.next(100, 0, 60, false), "a crowd above half the limit keeps it");
        }
        assertEquals(NONE, rule.next(100, 0, 10, false), "quiet long enough, and the crowd gone");

        for (int i = 1; i < CrowdLimit.QUIET_INTERVALS; i++) {
            rule.next(100, 0, 10, false);
        }
        assertEquals(106, rule.next(100, 0, 10, true), "a refusal raises it, and the quiet count starts over");
        for (int i = 1; i < CrowdLimit.QUIET_INTERVALS; i++) {
            assertEquals(106, rule.next(106, 0, 10, false), "interval " + i + " after the refusal");
        }
        assertEquals(NONE, rule.next(106, 0, 10, false));
    }
}
