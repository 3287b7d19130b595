package dev.bastion.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bastion.testing.Http;
import dev.bastion.testing.KeepAliveReader;
import dev.bastion.testing.PackagedService;
import dev.bastion.testing.TestDatabases;
import org.junit.jupiter.api.Test;

/**
 * SIGTERM while a crowd larger than the admission's door is parked (a rolling deploy during a spike): the
 * packaged service, a pool of two, room for 64 at the door, 160 keep-alive callers whose next requests
 * wait unread in their sockets. Every request a caller sent is answered (a 200, the last one with
 * {@code Connection: close}) before the process exits: none is cut off with its connection, whether it
 * was being served, waiting at the door, or parked. What carries the parked callers through is Quarkus's
 * drain itself: each request it finishes frees a place, which resumes a parked caller, whose request is
 * then read and answered with {@code Connection: close} (never parked again). The resume of everyone
 * still parked when the service stops ({@code OverloadShedding.resumeParked}) is the backstop for a
 * drain that finds nothing in flight; removed, this test still passes (a mutant run, 2026-12-07).
 */
class ParkedCrowdShutdownIT {

    private static final int CROWD = 160;

    @Test
    void sigtermWithCallersParkedAnswersEveryRequestSent() throws Exception {
        String db = TestDatabases.fresh("parked_shutdown");
        int port = freePort();
        int management = freePort();
        try (PackagedService service = PackagedService.against(db, Map.of("PORT", String.valueOf(port),
                "MANAGEMENT_PORT", String.valueOf(management), "DB_POOL_SIZE", "2", "DB_MAX_OVERFLOW", "0",
                "DB_POOL_WAIT_QUEUE", "640"))) {
            assertTrue(service.waitForLog("Listening on"), service.output());
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> created = client.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/customers"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"Parked\",\"email\":\"parked@example.org\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(201, created.statusCode(), created.body());
            long id = new ObjectMapper().readTree(created.body()).get("id").asLong();

            AtomicBoolean stop = new AtomicBoolean();
            List<KeepAliveReader> callers = new ArrayList<>();
            for (int i = 0; i < CROWD; i++) {
                callers.add(new KeepAliveReader(port, id, stop));
            }
            callers.forEach(Thread::start);
            URI metrics = URI.create("http://localhost:" + management + "/q/metrics");
            double parked = 0;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (parked < 20 && System.nanoTime() < until) {
                Thread.sleep(100);
                parked = Http.metric(client.send(HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.ofString()).body(), "bastion_db_admission_parked", Map.of());
            }
            assertTrue(parked >= 20, "the crowd was not parked: " + parked);

            service.process().destroy(); // SIGTERM, with callers parked, at the door and being served
            assertTrue(service.process().waitFor(40, TimeUnit.SECONDS), "still running 40 s after SIGTERM: " + service.output());
            stop.set(true);
            int closedByService = 0;
            int cutOff = 0;
            long answered = 0;
            List<String> failures = new ArrayList<>();
            for (KeepAliveReader caller : callers) {
                caller.join(30_000);
                assertTrue(!caller.isAlive(), "a caller still waits for its answer");
                answered += caller.answered;
                closedByService += caller.closedByService ? 1 : 0;
                cutOff += caller.cutOff ? 1 : 0;
                if (caller.failure != null && !caller.cutOff) {
                    failures.add(caller.failure.toString());
                }
            }
            System.out.printf("parked %.0f at the signal; %d answers, %d callers closed by the service after an answer, %d cut off%n",
                    parked, answered, closedByService, cutOff);
            assertTrue(failures.isEmpty(), "answers that were not the customer: " + failures);
            assertEquals(0, cutOff, cutOff + " of " + CROWD + " callers had a request sent and never answered: " + service.output());
            assertEquals(CROWD, closedByService, "every caller's last answer closes its connection");
        }
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
