package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.bastion.testing.Await;
import dev.bastion.testing.Customers;
import dev.bastion.testing.Http;
import dev.bastion.testing.KeepAliveReader;
import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

/**
 * A crowd of keep-alive callers, each sending its next request as soon as it has its answer (as wrk and
 * busy services do), against a real PostgreSQL through a pool of two. Once the admission's door is full,
 * an answered caller's connection is parked: its next request is left unread until the door has room.
 * The requests the service has read stay bounded by the door, not by the crowd; every request is still
 * answered, whole and right; parked callers that hang up are not left counted; nobody is left parked.
 */
@QuarkusTest
@TestProfile(ParkedConnectionsTest.PoolOfTwo.class)
@WithTestResource(PostgresResource.class)
class ParkedConnectionsTest {

    private static final int CROWD = 160; // beyond the pool (2), two rounds inside (4) and the door's room (64 here)
    private static final int FEW = 16;    // within the door: nobody is parked

    public static class PoolOfTwo implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "2",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.pool-wait-queue", "640", // the door then holds 64 before callers are parked
                    "bastion.db.breaker-request-volume", "100000");
        }
    }

    @Test
    void aCrowdBeyondTheDoorWaitsUnreadAndIsServedInTurn() throws Exception {
        long id = Customers.createCustomer(Customers.uniqueEmail());
        // the pace without parking, on this machine now: a few callers within the door, after a second's warm-up
        AtomicBoolean fewStop = new AtomicBoolean();
        List<KeepAliveReader> few = readers(FEW, id, fewStop);
        few.forEach(Thread::start);
        double unparkedPerSecond = answersPerSecond(few, 1_000, 1_500);
        fewStop.set(true);
        for (KeepAliveReader caller : few) {
            caller.join(30_000);
            assertTrue(caller.failure == null && !caller.isAlive(), "a caller of the few: " + caller.failure);
        }

        AtomicBoolean stop = new AtomicBoolean();
        List<KeepAliveReader> callers = readers(CROWD, id, stop);
        long crowdStarted = System.nanoTime();
        callers.forEach(Thread::start);

        // every caller's first request is read at once; from the second on, a crowd beyond the door is parked
        Thread.sleep(1_500);
        double mostParked = 0;
        double mostRead = 0;
        long windowStarted = System.nanoTime();
        long answeredBefore = answered(callers);
        long until = windowStarted + TimeUnit.SECONDS.toNanos(3);
        while (System.nanoTime() < until) {
            String scrape = Http.scrape();
            mostParked = Math.max(mostParked, Http.metric(scrape, "bastion_db_admission_parked", Map.of()));
            mostRead = Math.max(mostRead, Http.metric(scrape, "bastion_db_admission_waiting", Map.of())); // read, not parked
            Thread.sleep(50);
        }
        double crowdPerSecond = (answered(callers) - answeredBefore) / ((System.nanoTime() - windowStarted) / 1e9);
        List<KeepAliveReader> leaving = callers.subList(0, CROWD / 2);
        for (KeepAliveReader caller : leaving) { // with their requests unread, at the door, or being served
            caller.hangUp();
        }
        Thread.sleep(1_000);
        stop.set(true);
        List<KeepAliveReader> staying = callers.subList(CROWD / 2, CROWD);
        for (KeepAliveReader caller : callers) {
            caller.join(30_000);
            assertTrue(!caller.isAlive(), "a caller still waits for its answer");
        }

        assertTrue(mostParked > 0, "no caller was parked");
        // read and waiting: two rounds of the pool inside, the door's 64 and the requests of callers being resumed
        assertTrue(mostRead < CROWD * 3 / 4, "up to " + mostRead + " requests read and waiting, of " + CROWD + " callers");
        int fewest = Integer.MAX_VALUE;
        long answered = 0;
        for (KeepAliveReader caller : callers) { // a failure after its own hang-up is not one
            if (caller.failure != null) {
                throw new AssertionError("a caller", caller.failure);
            }
            assertTrue(!caller.closedByService, "the service closed a caller's connection under the crowd");
            assertTrue(caller.answered >= 2, "a caller answered " + caller.answered + " time(s): left parked");
            answered += caller.answered;
        }
        for (KeepAliveReader caller : staying) {
            fewest = Math.min(fewest, caller.answered);
        }
        // resumed as places free up, not only after the second a caller stays parked at most: at that pace, bound by
        // the second and not by the machine, the crowd gets about 1.8 answers a caller a second (290 a second: 18 %
        // of the few's 1,627 on a quiet machine). Measured against the few's pace on this machine, now, not a fixed
        // count: a loaded machine slows both (a CI run had 13 answers per caller where a quiet one has 36 to 79).
        // The service: 150 % of the few alone, 160 % beside three busy loops (883 against 551), 117 % in the
        // whole suite (860 against 738)
        assertTrue(crowdPerSecond >= unparkedPerSecond * 2 / 3, String.format(
                "the crowd got %.0f answers a second, a few callers %.0f", crowdPerSecond, unparkedPerSecond));
        Await.until(() -> Http.metric("bastion_db_admission_waiting", Map.of()) == 0
                && Http.metric("bastion_db_admission_parked", Map.of()) == 0, "nobody left waiting or parked");
        assertEquals(200, RestAssured.given().get("/customers/" + id).statusCode());
        // the time parked, which the request timings leave out, is counted: each answer was followed by one park
        // at most, of about a second at most, and no caller was parked longer than the crowd lasted (the exact
        // count is PoolAdmissionTest's)
        double parkedSeconds = Http.metric("bastion_db_admission_parked_seconds_total", Map.of());
        double crowdSeconds = (System.nanoTime() - crowdStarted) / 1e9;
        assertTrue(parkedSeconds >= 1 && parkedSeconds <= Math.min(answered * 1.2, CROWD * crowdSeconds),
                parkedSeconds + " s parked for " + answered + " answers in " + crowdSeconds + " s");
        System.out.printf("parked at most %.0f, read and waiting at most %.0f; %d answers per caller on average, "
                + "the staying callers %d at least; %.0f s parked in all; %.0f answers a second to the crowd, "
                + "%.0f to %d callers%n", mostParked, mostRead, answered / CROWD, fewest, parkedSeconds, crowdPerSecond,
                unparkedPerSecond, FEW);
    }

    /** {@code count} keep-alive readers of customer {@code id}, connected, not started. */
    private static List<KeepAliveReader> readers(int count, long id, AtomicBoolean stop) throws java.io.IOException {
        List<KeepAliveReader> readers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            readers.add(new KeepAliveReader(RestAssured.port, id, stop));
        }
        return readers;
    }

    /** The callers' answers per second from {@code afterMillis} on, for {@code forMillis}. */
    private static double answersPerSecond(List<KeepAliveReader> callers, long afterMillis, long forMillis)
            throws InterruptedException {
        Thread.sleep(afterMillis);
        long before = answered(callers);
        long started = System.nanoTime();
        Thread.sleep(forMillis);
        return (answered(callers) - before) / ((System.nanoTime() - started) / 1e9);
    }

    private static long answered(List<KeepAliveReader> callers) {
        long sum = 0;
        for (KeepAliveReader caller : callers) {
            sum += caller.answered;
        }
        return sum;
    }
}
