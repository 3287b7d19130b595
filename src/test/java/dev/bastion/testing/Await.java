package dev.bastion.testing;

import java.util.concurrent.TimeUnit;

/** Polls a condition on the service or the database until it holds (10 s at most). */
public final class Await {

    private Await() {
    }

    /** A condition that may query PostgreSQL or the service. */
    public interface Condition {
        boolean holds() throws Exception;
    }

    public static void until(Condition condition, String what) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < until) {
            if (condition.holds()) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("not reached: " + what);
    }
}
