package dev.bastion.database;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The service's retry budget across requests (like gRPC's retry throttling and Finagle's retry
 * budget): every unit of work earns a fifth of a retry, every retry spends one, and at most
 * {@link #BURST} retries can be saved up. In steady state at most about 20 % of the attempts are
 * retries, however many units fail: during an outage or an overload the service does not multiply
 * its own load on the database. Retries of a refused connection borrow (53300) run no statement and
 * are not counted. Lock-free: one atomic add per unit of work.
 */
final class RetryTokens {

    private static final long TOKEN = 1000;
    private static final long EARNED_PER_UNIT = 200; // a fifth of a retry
    static final long BURST = 100;

    private final AtomicLong milliTokens = new AtomicLong(BURST * TOKEN);
    private final LongAdder refused = new LongAdder();

    void unitStarted() {
        if (milliTokens.get() < BURST * TOKEN) {
            milliTokens.addAndGet(EARNED_PER_UNIT); // may pass the cap by a few units' worth: harmless
        }
    }

    /** Takes one retry's worth if there is one; false (counted) when the budget is spent. */
    boolean tryTake() {
        while (true) {
            long tokens = milliTokens.get();
            if (tokens < TOKEN) {
                refused.increment();
                return false;
            }
            if (milliTokens.compareAndSet(tokens, tokens - TOKEN)) {
                return true;
            }
        }
    }

    /** Retries not run because the budget was spent. */
    long refused() {
        return refused.sum();
    }
}
