package dev.bastion.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import dev.bastion.database.monitor.ContentionStatistics;
import dev.bastion.database.monitor.PoolStatistics.PoolSnapshot;
import dev.bastion.database.monitor.TransactionStatistics;
import org.junit.jupiter.api.Test;

/** The database health view's alerts, advice and status, from the monitors' figures. */
class OperatorReportsTest {

    private static final Duration LEAK_THRESHOLD = Duration.ofSeconds(60);
    private static final PoolSnapshot IDLE_POOL = pool(0.0, 0, 0);
    private static final TransactionStatistics QUIET = transactions("closed", 0, 0);
    private static final ContentionStatistics NO_DEADLOCKS = deadlocks("none", 0, 0, List.of());

    /** A pool of 10 connections. */
    private static PoolSnapshot pool(double utilizationPercent, long waiting, long rejected) {
        long active = Math.round(utilizationPercent / 10);
        return new PoolSnapshot(active, active, 0, waiting, 10, 10, 0, utilizationPercent, rejected, 100);
    }

    private static TransactionStatistics transactions(String breakerState, long slow24h, long rollbackFailures24h) {
        return new TransactionStatistics(100, 0, 5.0, slow24h, 0, null, rollbackFailures24h, 0,
                io.smallrye.faulttolerance.api.CircuitBreakerState.valueOf(breakerState.toUpperCase()));
    }

    private static ContentionStatistics deadlocks(String severity, long lastHour, long last24h, List<String> advice) {
        return new ContentionStatistics(lastHour, last24h, last24h, 0, 0,
                dev.bastion.database.monitor.ContentionMonitor.Severity.valueOf(severity.toUpperCase()), Map.of(), advice, List.of());
    }

    private static List<String> alerts(Long roundTripMs, PoolSnapshot p, TransactionStatistics t, ContentionStatistics d,
                                       long openTooLong) {
        return OperatorReports.alerts(roundTripMs, p, t, d, openTooLong, LEAK_THRESHOLD);
    }

    @Test
    void aQuietDatabaseIsHealthyWithNothingToSay() {
        List<String> alerts = alerts(2L, IDLE_POOL, QUIET, NO_DEADLOCKS, 0);
        assertEquals(List.of(), alerts);
        assertEquals(List.of(), OperatorReports.recommendations(IDLE_POOL, QUIET, NO_DEADLOCKS));
        assertEquals("healthy", OperatorReports.status(2L, QUIET, alerts));
    }

    @Test
    void poolUtilizationAlertsFromEightyPercent() {
        assertEquals(80.0, OperatorReports.UTILIZATION_ALERT_PERCENT);
        PoolSnapshot below = pool(79.9, 0, 0);
        assertEquals(List.of(), alerts(2L, below, QUIET, NO_DEADLOCKS, 0));
        assertEquals(List.of(), OperatorReports.recommendations(below, QUIET, NO_DEADLOCKS));

        PoolSnapshot at = pool(80.0, 0, 0);
        List<String> alerts = alerts(2L, at, QUIET, NO_DEADLOCKS, 0);
        assertEquals(List.of("Connection pool utilization is 80.0% of 10 connections."), alerts);
        assertEquals("degraded", OperatorReports.status(2L, QUIET, alerts));
        assertTrue(OperatorReports.recommendations(at, QUIET, NO_DEADLOCKS).get(0).startsWith("The pool is saturated"));
    }

    @Test
    void waitingCallersAreAnAlertAndRejectedOnesAdviceOnly() {
        PoolSnapshot waiting = pool(50.0, 3, 0);
        assertEquals(List.of("3 request(s) are waiting for a database connection."), alerts(2L, waiting, QUIET, NO_DEADLOCKS, 0));
        assertEquals(1, OperatorReports.recommendations(waiting, QUIET, NO_DEADLOCKS).size());

        // callers refused earlier are history: advice, but nothing to alert on now
        PoolSnapshot rejectedEarlier = pool(10.0, 0, 4);
        List<String> alerts = alerts(2L, rejectedEarlier, QUIET, NO_DEADLOCKS, 0);
        assertEquals(List.of(), alerts);
        assertEquals("healthy", OperatorReports.status(2L, QUIET, alerts));
        assertTrue(OperatorReports.recommendations(rejectedEarlier, QUIET, NO_DEADLOCKS).get(0).contains("DB_MAX_OVERFLOW"));
    }

    @Test
    void onlyHighDeadlockSeverityIsAnAlertButAnyDeadlockBringsItsAdvice() {
        ContentionStatistics medium = deadlocks("medium", 40, 40, List.of("deadlock advice"));
        assertEquals(List.of(), alerts(2L, IDLE_POOL, QUIET, medium, 0));
        assertEquals(List.of("deadlock advice"), OperatorReports.recommendations(IDLE_POOL, QUIET, medium));

        ContentionStatistics high = deadlocks("high", 7, 9, List.of("deadlock advice"));
        assertEquals(List.of("Contention severity is high: 7 deadlocks and serialization failures in the last hour."), alerts(2L, IDLE_POOL, QUIET, high, 0));
    }

    @Test
    void transactionsHeldPastTheLeakThresholdAreAnAlert() {
        assertEquals(List.of("2 transaction(s) are held longer than the leak threshold (60 s)."),
                alerts(2L, IDLE_POOL, QUIET, NO_DEADLOCKS, 2));
    }

    @Test
    void slowAndInterruptedTransactionsAreAdviceInThatOrder() {
        List<String> advice = OperatorReports.recommendations(IDLE_POOL, transactions("closed", 3, 2),
                deadlocks("low", 1, 1, List.of("deadlock advice")));
        assertEquals(List.of("3 slow transaction(s) in 24 h: check indexes and lock waits.",
                "2 transaction(s) lost their connection mid-way in 24 h: check network stability and server restarts.",
                "deadlock advice"), advice);
    }

    @Test
    void aDatabaseThatCannotBeUsedIsUnhealthy() {
        List<String> noAnswer = alerts(null, IDLE_POOL, QUIET, NO_DEADLOCKS, 0);
        assertEquals(List.of("PostgreSQL does not answer the probe connection."), noAnswer);
        assertEquals("unhealthy", OperatorReports.status(null, QUIET, noAnswer));

        TransactionStatistics open = transactions("open", 0, 0);
        List<String> breakerOpen = alerts(2L, IDLE_POOL, open, NO_DEADLOCKS, 0);
        assertEquals(List.of("The database circuit breaker is open: requests fail fast with 503."), breakerOpen);
        assertEquals("unhealthy", OperatorReports.status(2L, open, breakerOpen));

        TransactionStatistics halfOpen = transactions("half_open", 0, 0);
        assertEquals("healthy", OperatorReports.status(2L, halfOpen, alerts(2L, IDLE_POOL, halfOpen, NO_DEADLOCKS, 0)),
                "a trial call is under way: no alert of its own");
    }
}
