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
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.bastion.testing.PackagedService;
import dev.bastion.testing.TestDatabases;
import org.junit.jupiter.api.Test;

/**
 * SIGTERM under load, as Kubernetes stops a pod (after its preStop sleep): requests in flight are
 * answered, the process ends on its own within quarkus.shutdown.timeout, and
 * no caller ever gets an answer that is not the API's own: a 200, or a problem+json 5xx with
 * Retry-After. Quarkus 3.34 sends no 503 of its own while it drains (it closes connections after
 * their answer and stops accepting); this test fails if it ever does.
 */
class GracefulShutdownIT {

    private record Answer(int status, String contentType, boolean retryAfter, String error) {
    }

    @Test
    void sigtermUnderLoadAnswersEveryRequestItTookAndExitsCleanly() throws Exception {
        String db = TestDatabases.fresh("shutdown");
        int port = freePort();
        // both ports fixed, as in a pod (one fixed and one 0 makes Quarkus's HTTP meters clash: two tag sets)
        try (PackagedService service = PackagedService.against(db, Map.of("PORT", String.valueOf(port),
                "MANAGEMENT_PORT", String.valueOf(freePort())))) {
            assertTrue(service.waitForLog("Listening on"), service.output());
            assertTrue(!service.output().contains(" WARN "), "start-up on a correct configuration logs no WARN: " + service.output());
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(2)).build();
            HttpResponse<String> created = client.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/customers"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"Drain\",\"email\":\"drain@example.org\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(201, created.statusCode(), created.body());
            URI read = URI.create(created.headers().firstValue("Location").orElseThrow());
            URI absolute = read.isAbsolute() ? read : URI.create("http://localhost:" + port).resolve(read);

            List<Answer> answers = Collections.synchronizedList(new ArrayList<>());
            AtomicBoolean running = new AtomicBoolean(true);
            ExecutorService callers = Executors.newFixedThreadPool(8);
            for (int i = 0; i < 8; i++) {
                callers.submit(() -> {
                    while (running.get()) {
                        try {
                            HttpResponse<String> r = client.send(HttpRequest.newBuilder(absolute).timeout(Duration.ofSeconds(10)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            answers.add(new Answer(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""),
                                    r.headers().firstValue("Retry-After").isPresent(), null));
                        } catch (java.io.IOException refusedOrClosed) {
                            answers.add(new Answer(0, "", false, refusedOrClosed.getClass().getSimpleName()));
                            Thread.sleep(20);
                        }
                    }
                    return null;
                });
            }
            Thread.sleep(1500);
            long servedBefore;
            synchronized (answers) { // the callers keep adding
                servedBefore = answers.stream().filter(a -> a.status() == 200).count();
            }
            service.process().destroy(); // SIGTERM
            assertTrue(service.process().waitFor(40, TimeUnit.SECONDS), "still running 40 s after SIGTERM: " + service.output());
            Thread.sleep(300);
            running.set(false);
            callers.shutdown();
            assertTrue(callers.awaitTermination(20, TimeUnit.SECONDS));

            assertTrue(servedBefore > 0, "the load was served before the signal");
            // 143: the JVM's status after a SIGTERM it handled (128 + 15); Kubernetes treats it as a normal stop
            int status = service.process().exitValue();
            assertTrue(status == 0 || status == 143, "exit status " + status + ": " + service.output());
            assertTrue(service.output().contains("stopped in"), service.output());
            synchronized (answers) {
                for (Answer a : answers) {
                    if (a.error() != null) {
                        continue; // the listener was closed: refused or reset, never a half answer
                    }
                    assertTrue(a.status() == 200 || a.status() >= 500 && a.contentType().startsWith("application/problem+json")
                            && a.retryAfter(), "an answer that is not the API's own during shutdown: " + a);
                }
            }
        }
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
