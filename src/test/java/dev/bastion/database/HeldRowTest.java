package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Customers;
import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * One row held by a session outside the service (a batch job, a forgotten psql) while callers keep
 * writing to it faster than a small pool could absorb: the deadline reaches into PostgreSQL (no
 * service backend waits past it), at most DB_MAX_CONNECTIONS_PER_ROW connections wait on the row,
 * and every other customer keeps being served.
 */
@QuarkusTest
@TestProfile(HeldRowTest.SmallPool.class)
@WithTestResource(PostgresResource.class)
class HeldRowTest {

    static final int POOL = 4;
    static final int DEADLINE_SECONDS = 2;

    public static class SmallPool implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", Integer.toString(POOL),
                    "bastion.db.max-overflow", "0",
                    "bastion.db.request-timeout", Integer.toString(DEADLINE_SECONDS),
                    "bastion.db.pool-timeout", Integer.toString(DEADLINE_SECONDS),
                    "bastion.db.connect-timeout", "1",
                    "bastion.db.breaker-request-volume", "1000");
        }
    }

    /** What the service's backends did while the row was held, sampled from pg_stat_activity. */
    private static final class LockWaitSampler implements AutoCloseable {
        final AtomicLong mostWaiting = new AtomicLong();
        final AtomicLong longestWaitMillis = new AtomicLong();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread = new Thread(this::sample, "lock-wait-sampler");

        LockWaitSampler() {
            thread.start();
        }

        private void sample() {
            while (running.get()) {
                try {
                    mostWaiting.accumulateAndGet(SecondClient.queryLong("SELECT count(*) FROM pg_stat_activity "
                            + "WHERE application_name = 'bastion' AND wait_event_type = 'Lock'"), Math::max);
                    longestWaitMillis.accumulateAndGet(SecondClient.queryLong("SELECT coalesce(max(extract(epoch FROM "
                            + "now() - query_start) * 1000), 0)::bigint FROM pg_stat_activity WHERE application_name = "
                            + "'bastion' AND wait_event_type = 'Lock'"), Math::max);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.join();
        }
    }

    private record Answer(long customer, boolean write, int status, String body) {
        String kind() {
            int at = body.indexOf("\"kind\":\"");
            return at < 0 ? "" : body.substring(at + 8, body.indexOf('"', at + 8));
        }
    }

    private static HttpRequest adjust(long id) {
        return Http.postJson("/customers/" + id + "/credit-adjustments", "{\"amount\":1}").build();
    }

    @Test
    void aHeldRowCostsOnlyTheRequestsForThatRow() throws Exception {
        long held = createCustomer(uniqueEmail(), "100.00");
        List<Long> others = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            others.add(createCustomer(uniqueEmail(), "0"));
        }
        double refusedBefore = Http.metric("bastion_db_held_lock_refusals_total", Map.of("operation", "customer.credit-adjustment"));
        ConcurrentLinkedQueue<Answer> answers = new ConcurrentLinkedQueue<>();
        AtomicBoolean load = new AtomicBoolean(true);
        // three times the pool keeps writing to the held row; two callers keep writing to and reading the others
        ExecutorService callers = Executors.newFixedThreadPool(3 * POOL + 2);
        List<Future<?>> running = new ArrayList<>();
        try (SecondClient batchJob = new SecondClient(); LockWaitSampler sampler = new LockWaitSampler()) {
            batchJob.lockCustomer(held);
            for (int i = 0; i < 3 * POOL; i++) {
                running.add(callers.submit(() -> {
                    while (load.get()) {
                        HttpResponse<String> r = Http.send(adjust(held));
                        answers.add(new Answer(held, true, r.statusCode(), r.body()));
                    }
                }));
            }
            for (int i = 0; i < 2; i++) {
                int caller = i;
                running.add(callers.submit(() -> {
                    for (int n = 0; load.get(); n++) {
                        long other = others.get((n + caller) % others.size());
                        boolean write = n % 2 == 0;
                        HttpResponse<String> r = write ? Http.send(adjust(other))
                                : Http.send(HttpRequest.newBuilder(Http.uri("/customers/" + other)).build());
                        answers.add(new Answer(other, write, r.statusCode(), r.body()));
                    }
                }));
            }
            // three deadlines' worth of callers queueing on the held row (the first on it within seconds even on a
            // loaded machine, with a freshly started service)
            SecondClient.awaitServiceBlocked(TimeUnit.SECONDS.toMillis(5 * DEADLINE_SECONDS));
            while (answers.stream().filter(a -> a.customer() == held).count() < 6 * POOL) {
                Thread.sleep(50);
            }
            // the admin API names the session that holds everybody up
            given().auth().oauth2(AdminTokens.admin()).post("/admin/database/diagnostics").then().statusCode(200)
                    .body("blockers.pid", hasItem(batchJob.pid()));
            load.set(false);
            for (Future<?> caller : running) {
                caller.get(30, TimeUnit.SECONDS);
            }
            // every abandoned attempt has given its connection back, the row still held
            waitUntil(() -> SecondClient.serviceBackendsWaitingForLocks().isEmpty(), Duration.ofSeconds(DEADLINE_SECONDS + 1));
            sampler.close();
            assertTrue(sampler.mostWaiting.get() <= 2,
                    "at most DB_MAX_CONNECTIONS_PER_ROW backends waited on the row: " + sampler.mostWaiting.get());
            assertTrue(sampler.longestWaitMillis.get() <= TimeUnit.SECONDS.toMillis(DEADLINE_SECONDS + 1),
                    "no backend waited past the deadline + 1 s: " + sampler.longestWaitMillis.get() + " ms");
        } finally {
            load.set(false);
            callers.shutdownNow();
        }

        List<Answer> heldAnswers = answers.stream().filter(a -> a.customer() == held).toList();
        List<Answer> otherAnswers = answers.stream().filter(a -> a.customer() != held).toList();
        for (Answer a : heldAnswers) {
            assertEquals(503, a.status(), a.body());
            assertTrue(a.kind().equals("lock-not-available") || a.kind().equals("request-deadline-exceeded"), a.body());
        }
        long servedOthers = otherAnswers.stream().filter(a -> a.status() == 200).count();
        assertTrue(otherAnswers.size() >= 20, "the other customers' callers kept going: " + otherAnswers.size());
        assertTrue(servedOthers >= 0.99 * otherAnswers.size(), "other customers served: " + servedOthers + " of "
                + otherAnswers.size() + "; not served: " + otherAnswers.stream().filter(a -> a.status() != 200).limit(3).toList());
        long lockRefusals = heldAnswers.stream().filter(a -> a.kind().equals("lock-not-available")).count();
        assertTrue(lockRefusals > 0, "callers beyond the row's bound were refused without a connection");
        assertEquals(lockRefusals, Http.metric("bastion_db_held_lock_refusals_total",
                Map.of("operation", "customer.credit-adjustment")) - refusedBefore, 0.001);

        // nothing the callers were told "not saved" was saved, once the row is free again
        assertEquals(0, new BigDecimal("100.00").compareTo(Customers.balance(held)));
        // every adjustment of the others answered 200 landed once (each adds 1; reads add nothing)
        for (long other : others) {
            long adjusted = otherAnswers.stream().filter(a -> a.customer() == other && a.write() && a.status() == 200).count();
            assertEquals(0, BigDecimal.valueOf(adjusted).compareTo(Customers.balance(other)), "customer " + other);
        }
        given().contentType("application/json").body("{\"amount\":1}").post("/customers/" + held + "/credit-adjustments")
                .then().statusCode(200);
    }

    @Test
    void anUpdateWaitingOnAHeldRowIsCancelledAtItsDeadlineAndSavesNothing() throws Exception {
        long id = createCustomer(uniqueEmail(), "0");
        HttpResponse<String> answer;
        long answeredAt;
        try (SecondClient batchJob = new SecondClient()) {
            batchJob.lockCustomer(id);
            HttpRequest update = HttpRequest.newBuilder(Http.uri("/customers/" + id)).header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofString("{\"name\":\"Renamed\",\"email\":\"" + uniqueEmail()
                            + "\",\"status\":\"ACTIVE\",\"version\":0}")).build();
            answer = Http.send(update);
            answeredAt = System.nanoTime();
            // soon after the answer its backend no longer waits (the deadline's cancel request, or the transaction's
            // statement_timeout, which is what the request had left); 5 s leaves a loaded machine's polls room
            waitUntil(() -> SecondClient.serviceBackendsWaitingForLocks().isEmpty(), Duration.ofSeconds(5));
            assertTrue(System.nanoTime() - answeredAt <= TimeUnit.SECONDS.toNanos(5));
        }
        assertEquals(503, answer.statusCode(), answer.body());
        assertTrue(answer.body().contains("\"kind\":\"request-deadline-exceeded\""), answer.body());
        given().get("/customers/" + id).then().statusCode(200).body("version", org.hamcrest.Matchers.equalTo(0))
                .body("name", org.hamcrest.Matchers.not("Renamed"));
    }

    @Test
    void aStricterStatementTimeoutOfTheRoleIsKeptAndRetried() throws Exception {
        long id = createCustomer(uniqueEmail(), "5.00");
        String role = SecondClient.queryString("SELECT current_user");
        double retriesBefore = Http.metric("bastion_db_retries_total", Map.of("kind", "statement-timeout"));
        try (SecondClient dba = new SecondClient()) {
            dba.execute("ALTER ROLE " + role + " SET statement_timeout = '400ms'");
            dba.commit();
            // the service's sessions start again and take the role's setting
            SecondClient.terminate(SecondClient.pids("SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion'"));
            try (SecondClient batchJob = new SecondClient(); LockWaitSampler sampler = new LockWaitSampler()) {
                batchJob.lockCustomer(id);
                HttpResponse<String> answer = Http.send(adjust(id));
                sampler.close();
                assertTrue(answer.statusCode() == 503 || answer.statusCode() == 504, answer.body());
                assertTrue(sampler.longestWaitMillis.get() < 1000,
                        "PostgreSQL cancelled each wait after the role's 400 ms, not the request's 2 s: "
                                + sampler.longestWaitMillis.get() + " ms");
            }
        } finally {
            try (SecondClient dba = new SecondClient()) {
                dba.execute("ALTER ROLE " + role + " RESET statement_timeout");
                dba.commit();
            }
            SecondClient.terminate(SecondClient.pids("SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion'"));
        }
        assertTrue(Http.metric("bastion_db_retries_total", Map.of("kind", "statement-timeout")) - retriesBefore >= 1,
                "a timeout of the server's own limit was retried within the deadline");
        assertEquals(0, new BigDecimal("5.00").compareTo(Customers.balance(id)));
        given().contentType("application/json").body("{\"amount\":1}").post("/customers/" + id + "/credit-adjustments")
                .then().statusCode(200);
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    static void waitUntil(Condition condition, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + within);
            }
            Thread.sleep(10);
        }
    }
}
