package dev.bastion.idempotency;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import dev.bastion.testing.SecondClient;

/** A backlog of expired keys of one test's own operation, and how the clean-up works it off, seen from outside. */
final class KeyBacklog {

    private final String operation;

    KeyBacklog(String operation) {
        this.operation = operation;
    }

    /** Only this backlog's keys are expired afterwards: {@code expired} of them, and {@code live} that are not. */
    void seed(int expired, int live) throws Exception {
        try (SecondClient db = new SecondClient()) {
            db.execute("DELETE FROM idempotency_key WHERE expires_at < now()");
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT '" + operation + "', 'expired-' || s, repeat('0', 64), 200, now() - interval '1 minute' "
                    + "FROM generate_series(1, " + expired + ") s");
            db.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, response_status, expires_at) "
                    + "SELECT '" + operation + "', 'live-' || s, repeat('0', 64), 200, now() + interval '1 hour' "
                    + "FROM generate_series(1, " + live + ") s");
            db.commit();
        }
    }

    /**
     * The expired count each time it changed, from {@code start} until none is left or {@code untilNanos}:
     * read every 20 ms, far more often than runs come, so each step is one run.
     */
    List<Long> watch(long start, long untilNanos) throws Exception {
        List<Long> seen = new ArrayList<>(List.of(start));
        while (seen.get(seen.size() - 1) > 0 && System.nanoTime() < untilNanos) {
            long now = SecondClient.queryLong("SELECT count(*) FROM idempotency_key WHERE operation = '" + operation
                    + "' AND expires_at < now()");
            if (now != seen.get(seen.size() - 1)) {
                seen.add(now);
            }
            Thread.sleep(20);
        }
        return seen;
    }

    /** Every step of {@code seen} removed some keys, and no more than one run's cap. */
    static void assertEachRunWithin(List<Long> seen, long cap) {
        for (int i = 1; i < seen.size(); i++) {
            long step = seen.get(i - 1) - seen.get(i);
            assertTrue(step > 0 && step <= cap, "one run removed " + step + ", over its cap: " + seen);
        }
    }

    long live() throws Exception {
        return SecondClient.queryLong("SELECT count(*) FROM idempotency_key WHERE operation = '" + operation
                + "' AND idempotency_key LIKE 'live-%'");
    }
}
