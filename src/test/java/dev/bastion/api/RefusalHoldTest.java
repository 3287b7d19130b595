package dev.bastion.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import dev.bastion.database.DatabaseSettings;
import dev.bastion.testing.ConfigMappings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A crowd is held long enough that its refusals stay few: the hold grows with the number of refusals
 * being held, so 3,000 callers retrying at once come back about 1,000 times a second, not 2,000.
 * The storm itself against the running service: {@code RefusalStormTest}.
 */
class RefusalHoldTest {

    private final Vertx vertx = Vertx.vertx();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @AfterEach
    void close() {
        vertx.close().toCompletionStage().toCompletableFuture().join(); // cancels the holds' timers
    }

    private RefusalHold hold(Map<String, String> settings) {
        return new RefusalHold(vertx, ConfigMappings.read(DatabaseSettings.class, settings), registry);
    }

    @Test
    void aCrowdBeingHeldLengthensTheHoldInProportionUpToFiveSeconds() {
        RefusalHold hold = hold(Map.of());
        assertEquals(2000, hold.longestHoldMillis(0));
        assertEquals(2000, hold.longestHoldMillis(1500), "up to 1,500 held, 1 to 2 s already keeps them near 1,000 a second");
        assertEquals(4000, hold.longestHoldMillis(3000));
        assertEquals(5000, hold.longestHoldMillis(1_000_000), "a caller learns it was refused within 5 s");
    }

    @Test
    void noHoldIsLongerThanHalfTheRequestDeadline() {
        RefusalHold hold = hold(Map.of("bastion.db.request-timeout", "3"));
        assertEquals(1500, hold.longestHoldMillis(0));
        assertEquals(1500, hold.longestHoldMillis(100_000));
    }

    @Test
    void theRefusalsBeingHeldAreCountedAndLengthenTheNextHold() {
        RefusalHold hold = hold(Map.of());
        AtomicInteger sent = new AtomicInteger();
        int storm = 4000;
        for (int i = 0; i < storm; i++) {
            hold.answer(sent::incrementAndGet, 0);
        }
        double holding = registry.get("bastion.http.refusals.holding").gauge().value();
        // the first ones of each 100 ms window are answered at once; all others are being held
        assertEquals(storm - sent.get(), (int) holding, "answered at once: " + sent.get());
        assertTrue(holding >= storm - 10 * RefusalHold.AT_ONCE_PER_WINDOW, "held: " + holding);

        long next = 0;
        for (int i = 0; i <= RefusalHold.AT_ONCE_PER_WINDOW && next == 0; i++) {
            next = hold.holdMillis(0); // past the current window's refusals answered at once
        }
        assertTrue(next > 2000, "with " + holding + " held, the next hold (" + next + " ms) goes past the 2 s a small storm gets");
    }
}
