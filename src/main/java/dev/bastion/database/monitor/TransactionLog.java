package dev.bastion.database.monitor;

import java.time.Duration;

import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.TransactionListener;
import dev.bastion.logging.BurstLog;
import dev.bastion.logging.LogSettings;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/**
 * The log lines of the unit of work's events: circuit breaker transitions, and transactions that
 * lost their connection before a clean rollback. A burst (every transaction of an outage, a breaker
 * that keeps reopening while the database stays down) is one line and a count, not one line each.
 */
@Singleton
public class TransactionLog implements TransactionListener {

    private static final Logger LOG = Logger.getLogger(TransactionLog.class);

    private final BurstLog rollbackLog;
    private final BurstLog breakerLog;

    public TransactionLog(LogSettings logSettings) {
        Duration window = logSettings.incidentWindow();
        this.rollbackLog = new BurstLog(LOG, Logger.Level.WARN, "Lost rollback", window);
        this.breakerLog = new BurstLog(LOG, Logger.Level.WARN, "Breaker reopening", window);
    }

    @Override
    public void rollbackFailed(String operation, DatabaseFailure failure) {
        rollbackLog.record(operation, operation + ": transaction ended without a clean rollback (" + failure.kind()
                + "); its connection is discarded", null);
    }

    @Override
    public void breakerStateChanged(CircuitBreakerState previous, CircuitBreakerState state) {
        if (previous == state) {
            return;
        }
        // while the database stays down the breaker tries a call every DB_BREAKER_DELAY seconds and opens
        // again: those re-openings are counted, not logged one by one
        if (previous == CircuitBreakerState.HALF_OPEN && state == CircuitBreakerState.OPEN) {
            breakerLog.record("reopened", "Database circuit breaker HALF_OPEN -> OPEN: the trial call failed too", null);
        } else if (state == CircuitBreakerState.OPEN) {
            LOG.warnf("Database circuit breaker %s -> OPEN: requests fail fast with 503", previous);
        } else if (state == CircuitBreakerState.CLOSED) {
            LOG.infof("Database circuit breaker %s -> CLOSED: the database answers again", previous);
        } else {
            LOG.debugf("Database circuit breaker %s -> %s", previous, state);
        }
    }

    @PreDestroy
    void close() {
        rollbackLog.close();
        breakerLog.close();
    }
}
