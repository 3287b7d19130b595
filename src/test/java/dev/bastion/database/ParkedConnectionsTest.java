package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.bastion.testing.Await;
import dev.bastion.testing.Customers;
import dev.bastion.testing.Http;
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

    /** One keep-alive connection reading one customer over and over, the next request sent on the answer. */
    private static final class Caller extends Thread {
        private final long id;
        private final AtomicBoolean stop;
        private final Socket socket;
        volatile int answered;
        volatile boolean hungUp;
        volatile Throwable failure;

        Caller(long id, AtomicBoolean stop) throws IOException {
            this.id = id;
            this.stop = stop;
            this.socket = new Socket("localhost", RestAssured.port);
            socket.setSoTimeout(20_000);
            setDaemon(true);
        }

        @Override
        public void run() {
            try (socket) {
                OutputStream out = socket.getOutputStream();
                InputStream in = new BufferedInputStream(socket.getInputStream());
                byte[] request = ("GET /customers/" + id + " HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII);
                while (!stop.get()) {
                    out.write(request);
                    out.flush();
                    String answer = readAnswer(in);
                    if (!answer.startsWith("HTTP/1.1 200") || !answer.contains("\"id\":" + id + ",")) {
                        throw new AssertionError("answer " + answered + ": " + answer);
                    }
                    answered++;
                }
            } catch (Throwable e) {
                if (!hungUp) {
                    failure = e;
                }
            }
        }

        /** Hangs up, whether its request is being served, waits at the door or is left unread. */
        void hangUp() throws IOException {
            hungUp = true;
            socket.close();
        }

        private static String readAnswer(InputStream in) throws IOException {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            while (matched < 4) {
                int b = in.read();
                if (b < 0) {
                    throw new IOException("closed by the service after " + head);
                }
                head.write(b);
                matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
            }
            String text = head.toString(StandardCharsets.US_ASCII);
            int at = text.toLowerCase().indexOf("content-length:");
            if (at < 0) {
                throw new IOException("no Content-Length: " + text);
            }
            int length = Integer.parseInt(text.substring(at + 15, text.indexOf('\r', at)).trim());
            byte[] body = in.readNBytes(length);
            return text + new String(body, StandardCharsets.UTF_8);
        }
    }

    @Test
    void aCrowdBeyondTheDoorWaitsUnreadAndIsServedInTurn() throws Exception {
        long id = Customers.createCustomer(Customers.uniqueEmail());
        AtomicBoolean stop = new AtomicBoolean();
        List<Caller> callers = new ArrayList<>();
        for (int i = 0; i < CROWD; i++) {
            callers.add(new Caller(id, stop));
        }
        callers.forEach(Thread::start);

        // every caller's first request is read at once; from the second on, a crowd beyond the door is parked
        Thread.sleep(1_500);
        double mostParked = 0;
        double mostRead = 0;
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        while (System.nanoTime() < until) {
            String scrape = Http.scrape();
            mostParked = Math.max(mostParked, Http.metric(scrape, "bastion_db_admission_parked", Map.of()));
            mostRead = Math.max(mostRead, Http.metric(scrape, "bastion_db_admission_waiting", Map.of())); // read, not parked
            Thread.sleep(50);
        }
        List<Caller> leaving = callers.subList(0, CROWD / 2);
        for (Caller caller : leaving) { // with their requests unread, at the door, or being served
            caller.hangUp();
        }
        Thread.sleep(1_000);
        stop.set(true);
        List<Caller> staying = callers.subList(CROWD / 2, CROWD);
        for (Caller caller : callers) {
            caller.join(30_000);
            assertTrue(!caller.isAlive(), "a caller still waits for its answer");
        }

        assertTrue(mostParked > 0, "no caller was parked");
        // read and waiting: two rounds of the pool inside, the door's 64 and the requests of callers being resumed
        assertTrue(mostRead < CROWD * 3 / 4, "up to " + mostRead + " requests read and waiting, of " + CROWD + " callers");
        int fewest = Integer.MAX_VALUE;
        long answered = 0;
        for (Caller caller : callers) { // a failure after its own hang-up is not one
            if (caller.failure != null) {
                throw new AssertionError("a caller", caller.failure);
            }
            assertTrue(caller.answered >= 2, "a caller answered " + caller.answered + " time(s): left parked");
            answered += caller.answered;
        }
        for (Caller caller : staying) {
            fewest = Math.min(fewest, caller.answered);
        }
        // resumed as places free up, not only after the second a caller stays parked at most: at that pace a
        // caller would get about one answer a second, 5 or 6 in this crowd's 5.5 s
        assertTrue(answered / CROWD >= 15, answered / CROWD + " answers per caller on average");
        Await.until(() -> Http.metric("bastion_db_admission_waiting", Map.of()) == 0
                && Http.metric("bastion_db_admission_parked", Map.of()) == 0, "nobody left waiting or parked");
        assertEquals(200, RestAssured.given().get("/customers/" + id).statusCode());
        // the time parked, which the request timings leave out, is counted: each answer was followed by one park
        // at most, of about a second at most; and the crowd stayed parked long enough to count seconds
        double parkedSeconds = Http.metric("bastion_db_admission_parked_seconds_total", Map.of());
        assertTrue(parkedSeconds >= 1 && parkedSeconds <= answered * 1.2, parkedSeconds + " s parked for " + answered + " answers");
        System.out.printf("parked at most %.0f, read and waiting at most %.0f; %d answers per caller on average, "
                + "the staying callers %d at least; %.0f s parked in all%n", mostParked, mostRead, answered / CROWD, fewest,
                parkedSeconds);
    }
}
