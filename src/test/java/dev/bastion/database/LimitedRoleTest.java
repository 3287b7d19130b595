package dev.bastion.database;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.function.IntFunction;
import java.util.stream.Collectors;

import dev.bastion.testing.AdminTokens;
import dev.bastion.testing.Http;
import dev.bastion.testing.LimitedRoleResource;
import dev.bastion.testing.Management;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

/**
 * Limits a managed PostgreSQL or a DBA imposes, met by the service running as a non-superuser role
 * with a scram-sha-256 password: each is a partial outage, never a total one, and never a 500.
 */
@QuarkusTest
@TestProfile(LimitedRoleTest.PoolOfTen.class)
@WithTestResource(LimitedRoleResource.class)
class LimitedRoleTest {

    public static class PoolOfTen implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.pool-size", "10",
                    "bastion.db.max-overflow", "0",
                    "bastion.db.pool-timeout", "2",
                    "bastion.db.request-timeout", "4",
                    "bastion.db.connect-timeout", "1");
        }
    }

    record Answer(boolean write, int status, String kind, String retryAfter) {
    }

    /** {@code callers} callers sending request(caller) back to back for {@code duration}. */
    static List<Answer> load(int callers, Duration duration, IntFunction<HttpRequest> request) throws Exception {
        ConcurrentLinkedQueue<Answer> answers = new ConcurrentLinkedQueue<>();
        long end = System.nanoTime() + duration.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < callers; i++) {
                int caller = i;
                running.add(pool.submit(() -> {
                    while (System.nanoTime() < end) {
                        HttpRequest r = request.apply(caller);
                        HttpResponse<String> response = Http.send(r);
                        String body = response.body();
                        int at = body.indexOf("\"kind\":\"");
                        answers.add(new Answer(r.method().equals("POST"), response.statusCode(),
                                at < 0 ? "" : body.substring(at + 8, body.indexOf('"', at + 8)),
                                response.headers().firstValue("Retry-After").orElse(null)));
                    }
                }));
            }
            for (Future<?> f : running) {
                f.get(duration.toSeconds() + 30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        return List.copyOf(answers);
    }

    static HttpRequest read(long id) {
        return HttpRequest.newBuilder(Http.uri("/customers/" + id)).timeout(Duration.ofSeconds(30)).build();
    }

    @Test
    void aRotatedPasswordIsPickedUpFromTheSecretFileWithoutARestart() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        String rotated = "second-Secret-2";
        try {
            LimitedRoleResource.asSuperuser("ALTER ROLE " + LimitedRoleResource.ROLE + " PASSWORD '" + rotated + "'");
            LimitedRoleResource.endSessions();

            // the secrets manager changed the database first: an outage of the kind operators can act on
            HttpResponse<String> refused = Http.send(read(id));
            assertEquals(503, refused.statusCode(), refused.body());
            assertTrue(refused.body().contains("\"kind\":\"database-auth-failed\"")
                    || refused.body().contains("\"kind\":\"circuit-open\""), refused.body());
            assertTrue(refused.headers().firstValue("Retry-After").isPresent());
            // once the breaker opens, its answers still name what it protects callers from
            String open = refused.body();
            for (int i = 0; i < 60 && !open.contains("\"kind\":\"circuit-open\""); i++) {
                open = Http.send(read(id)).body();
            }
            assertTrue(open.contains("\"kind\":\"circuit-open\""), "the breaker did not open: " + open);
            assertTrue(open.contains("credentials (database-auth-failed)"), open);
            Management.given().get("/q/health/ready").then().log().ifValidationFails().statusCode(503)
                    .body("checks.find { it.name == 'database' }.data.error", equalTo("database-auth-failed"))
                    .body("checks.find { it.name == 'database' }.data.reason", containsString("password authentication failed"));

            // ...then the kubelet updated the Secret volume: the next connections log in with it
            LimitedRoleResource.writePassword(rotated);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (Management.given().get("/q/health/ready").statusCode() != 200) {
                assertTrue(System.nanoTime() < deadline, "readiness came back after the rotation");
                Thread.sleep(50);
            }
            while (Http.send(read(id)).statusCode() != 200) { // the breaker, if it opened, lets a trial through
                assertTrue(System.nanoTime() < deadline, "requests succeed after the rotation");
                Thread.sleep(50);
            }
            given().contentType("application/json").body("{\"amount\":1}").post("/customers/" + id + "/credit-adjustments")
                    .then().statusCode(200).body("creditBalance", equalTo(2.0f));
        } finally {
            LimitedRoleResource.asSuperuser("ALTER ROLE " + LimitedRoleResource.ROLE + " PASSWORD '"
                    + LimitedRoleResource.FIRST_PASSWORD + "'");
            LimitedRoleResource.writePassword(LimitedRoleResource.FIRST_PASSWORD);
        }
    }

    @Test
    void aPasswordRotatedAheadOfTheSecretFileIsServedOnTheConnectionsAlreadyLoggedIn() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        LimitedRoleResource.endSessions(); // the pool (and the readiness probe's connection) start again from none
        for (int i = 0; i < 3; i++) {
            given().get("/customers/" + id).then().statusCode(200); // one at a time: the pool opens one connection
        }
        try {
            double refusedBefore = Http.metric("bastion_db_logins_refused_total", Map.of());
            // the secrets manager changed the role's password; the kubelet has not updated the Secret volume yet
            LimitedRoleResource.asSuperuser("ALTER ROLE " + LimitedRoleResource.ROLE + " PASSWORD 'third-Secret-3'");
            List<Answer> answers = load(8, Duration.ofSeconds(4), caller -> caller < 2
                    ? Http.postJson("/customers/" + id + "/credit-adjustments", "{\"amount\":1}").build()
                    : read(id));
            List<Answer> failed = answers.stream().filter(a -> a.status() >= 300).toList();
            // before, every request that needed one more connection was answered 503 database-auth-failed and
            // counted by the breaker, and readiness went DOWN on a pod whose connections worked
            assertEquals(List.of(), failed.stream().limit(5).toList(), failed.size() + " of " + answers.size() + " not served");
            long adjustments = answers.stream().filter(Answer::write).count();
            assertTrue(adjustments > 0 && answers.size() > adjustments, answers.size() + " answers");
            assertEquals(100 + 100 * adjustments, LimitedRoleResource.query("SELECT (credit_balance * 100)::bigint FROM customer "
                    + "WHERE id = " + id), "every acknowledged adjustment saved once");
            assertEquals(0, Http.metric("bastion_db_circuit_breaker_state", Map.of()), 0.001, "the breaker stayed closed");
            assertTrue(Http.metric("bastion_db_logins_refused_total", Map.of()) > refusedBefore, "operators see the refused logins");
            // ready: the probe asks on a pooled connection while new ones are refused, or reports the refusal as UP
            Management.given().get("/q/health/ready").then().log().ifValidationFails().statusCode(200)
                    .body("checks.find { it.name == 'database' }.status", equalTo("UP"));
        } finally {
            LimitedRoleResource.asSuperuser("ALTER ROLE " + LimitedRoleResource.ROLE + " PASSWORD '"
                    + LimitedRoleResource.FIRST_PASSWORD + "'");
        }
    }

    @Test
    void aRevokedConnectPrivilegeIsServedOnTheConnectionsAlreadyLoggedIn() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        LimitedRoleResource.endSessions();
        for (int i = 0; i < 3; i++) {
            given().get("/customers/" + id).then().statusCode(200); // one at a time: the pool opens one connection
        }
        String grant = " CONNECT ON DATABASE " + LimitedRoleResource.DATABASE;
        try {
            LimitedRoleResource.asSuperuser("REVOKE" + grant + " FROM PUBLIC");
            LimitedRoleResource.asSuperuser("REVOKE" + grant + " FROM " + LimitedRoleResource.ROLE);
            // reads on lent connections, credit adjustments on Hibernate sessions: both borrow from the pool
            List<Answer> answers = load(6, Duration.ofSeconds(3), caller -> caller < 2
                    ? Http.postJson("/customers/" + id + "/credit-adjustments", "{\"amount\":1}").build()
                    : read(id));
            List<Answer> failed = answers.stream().filter(a -> a.status() != 200).toList();
            // before, each connection the pool tried to add answered 503 (a 500 database-error before that)
            assertEquals(List.of(), failed.stream().limit(5).toList(), failed.size() + " of " + answers.size() + " not served");
            long adjustments = answers.stream().filter(Answer::write).count();
            assertTrue(adjustments > 0, "no adjustment sent");
            assertEquals(100 + 100 * adjustments, LimitedRoleResource.query("SELECT (credit_balance * 100)::bigint FROM customer "
                    + "WHERE id = " + id), "every acknowledged adjustment saved once");
            Management.given().get("/q/health/ready").then().log().ifValidationFails().statusCode(200);
        } finally {
            LimitedRoleResource.asSuperuser("GRANT" + grant + " TO " + LimitedRoleResource.ROLE);
            LimitedRoleResource.asSuperuser("GRANT" + grant + " TO PUBLIC");
        }
    }

    @Test
    void aRevokedPrivilegeRefusesThatOperationAloneWithoutOpeningTheBreaker() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        String notes = "/customers/" + id + "/notes";
        try {
            LimitedRoleResource.asSuperuserInItsDatabase("REVOKE INSERT ON customer_note FROM " + LimitedRoleResource.ROLE);
            List<Answer> answers = load(6, Duration.ofSeconds(3), caller -> caller < 3
                    ? Http.postJson(notes, "{\"body\":\"refused\"}").build()
                    : read(id));
            List<Answer> writes = answers.stream().filter(Answer::write).toList();
            assertTrue(writes.size() >= 10, "enough refused writes to open a breaker that counted them: " + writes.size());
            for (Answer w : writes) { // before: 500 database-error
                assertEquals(new Answer(true, 503, "database-permission-denied", w.retryAfter()), w);
                assertTrue(Integer.parseInt(w.retryAfter()) >= 1, w.toString());
            }
            assertTrue(answers.stream().filter(a -> !a.write()).allMatch(a -> a.status() == 200), "every read served");
            assertEquals(0, Http.metric("bastion_db_circuit_breaker_state", Map.of()), 0.001, "the breaker stayed closed");
            assertEquals(0, LimitedRoleResource.query("SELECT count(*) FROM customer_note WHERE customer_id = " + id));
            given().contentType("application/json").body("{\"name\":\"Other\",\"email\":\"" + uniqueEmail() + "\"}")
                    .post("/customers").then().statusCode(201);
        } finally {
            LimitedRoleResource.asSuperuserInItsDatabase("GRANT INSERT ON customer_note TO " + LimitedRoleResource.ROLE);
        }
        given().contentType("application/json").body("{\"body\":\"accepted\"}").post(notes).then().statusCode(201);
    }

    @Test
    void writesRefusedForAFullDiskLeaveReadsServedAndTheBreakerClosed() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        String notes = "/customers/" + id + "/notes";
        // PostgreSQL's own disk_full (53100), raised where a full tablespace raises it, on extending the table's
        // file: a trigger stands in for the disk (a real full volume cannot be mounted for an embedded server here)
        LimitedRoleResource.asSuperuserInItsDatabase("CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ "
                + "BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$");
        LimitedRoleResource.asSuperuserInItsDatabase("CREATE TRIGGER disk_full BEFORE INSERT ON customer_note "
                + "FOR EACH ROW EXECUTE FUNCTION disk_full()");
        try {
            // a moment of writes only (reads, many and quick, would otherwise fill the breaker's window with successes)
            List<Answer> writes = load(4, Duration.ofSeconds(3), caller -> Http.postJson(notes, "{\"body\":\"no room\"}").build());
            assertTrue(writes.size() >= 10, "enough refused writes to open a breaker that counted them: " + writes.size());
            for (Answer w : writes) {
                assertEquals(new Answer(true, 503, "database-resources", w.retryAfter()), w);
            }
            // before, the refused writes opened the breaker and the reads that followed were answered 503 circuit-open
            assertEquals(0, Http.metric("bastion_db_circuit_breaker_state", Map.of()), 0.001, "the breaker stayed closed");
            List<Answer> reads = load(3, Duration.ofSeconds(1), caller -> read(id));
            assertTrue(reads.stream().allMatch(a -> a.status() == 200), "every read served: "
                    + reads.stream().filter(a -> a.status() != 200).limit(3).toList());
            assertEquals(0, LimitedRoleResource.query("SELECT count(*) FROM customer_note WHERE customer_id = " + id));
        } finally {
            LimitedRoleResource.asSuperuserInItsDatabase("DROP TRIGGER disk_full ON customer_note");
            LimitedRoleResource.asSuperuserInItsDatabase("DROP FUNCTION disk_full()");
        }
        given().contentType("application/json").body("{\"body\":\"room again\"}").post(notes).then().statusCode(201);
    }

    @Test
    void aSequenceAtItsMaximumRefusesCreatesAsTheDatabasesProblemNotTheCallers() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        String key = java.util.UUID.randomUUID().toString();
        String keyedEmail = uniqueEmail();
        // no id left for a new customer (2200H on nextval): what an int4 identity meets at 2^31, set here with MAXVALUE
        LimitedRoleResource.asSuperuserInItsDatabase("DO $$ BEGIN EXECUTE format('ALTER TABLE customer ALTER COLUMN id "
                + "SET MAXVALUE %s', (SELECT last_value FROM customer_id_seq)); END $$");
        try {
            List<Answer> answers = load(6, Duration.ofSeconds(2), caller -> caller < 3
                    ? Http.postJson("/customers", "{\"name\":\"No id\",\"email\":\"" + uniqueEmail() + "\"}").build()
                    : read(id));
            List<Answer> creates = answers.stream().filter(Answer::write).toList();
            assertTrue(creates.size() >= 10, "enough refused creates to open a breaker that counted them: " + creates.size());
            for (Answer c : creates) { // before: 422 invalid-data, "check the field limits", which no caller can act on
                assertEquals(new Answer(true, 503, "database-resources", c.retryAfter()), c);
            }
            assertTrue(answers.stream().filter(a -> !a.write()).allMatch(a -> a.status() == 200), "every read served");
            given().contentType("application/json").header("Idempotency-Key", key)
                    .body("{\"name\":\"Keyed\",\"email\":\"" + keyedEmail + "\"}")
                    .post("/customers").then().statusCode(503).body("kind", equalTo("database-resources"));
            assertEquals(0, Http.metric("bastion_db_circuit_breaker_state", Map.of()), 0.001, "the breaker stayed closed");
            assertEquals(0, LimitedRoleResource.query("SELECT count(*) FROM customer WHERE id > " + id));
        } finally {
            LimitedRoleResource.asSuperuserInItsDatabase("ALTER TABLE customer ALTER COLUMN id SET NO MAXVALUE");
        }
        // the refused keyed create left its key free: the same request now creates the customer, once
        given().contentType("application/json").header("Idempotency-Key", key)
                .body("{\"name\":\"Keyed\",\"email\":\"" + keyedEmail + "\"}")
                .post("/customers").then().statusCode(201);
        assertEquals(1, LimitedRoleResource.query("SELECT count(*) FROM customer WHERE email = '" + keyedEmail + "'"));
    }

    @Test
    void aReadOnlyDatabaseServesEveryReadAndRefusesWritesWithoutOpeningTheBreaker() throws Exception {
        long id = createCustomer(uniqueEmail(), "1.00");
        String email = uniqueEmail();
        try {
            LimitedRoleResource.asSuperuser("ALTER DATABASE " + LimitedRoleResource.DATABASE
                    + " SET default_transaction_read_only = on");
            LimitedRoleResource.endSessions(); // new sessions take the database's setting, as after a DBA's change

            // 8 s: a write refused as read-only is tried again within its deadline, so on a loaded machine each
            // takes a second or two; 4 writers then send enough of them to open a breaker that counted them
            List<Answer> answers = load(8, Duration.ofSeconds(8), caller -> caller < 4
                    ? Http.postJson("/customers", "{\"name\":\"Refused\",\"email\":\"" + caller + email + "\"}").build()
                    : read(id));

            List<Answer> reads = answers.stream().filter(a -> !a.write()).toList();
            List<Answer> writes = answers.stream().filter(Answer::write).toList();
            assertTrue(writes.size() >= 10, "enough refused writes to open a breaker that counted them: " + writes.size());
            assertTrue(reads.stream().allMatch(a -> a.status() == 200), "every read served: "
                    + reads.stream().filter(a -> a.status() != 200).limit(3).toList());
            long refusedAsReadOnly = 0;
            for (Answer w : writes) {
                if (w.status() == 500) {
                    // known race (docs/failure-model.md): a write sent on a connection whose backend the service had
                    // just ended is answered "outcome unknown", never "saved"; the row count below shows none was
                    assertEquals("commit-outcome-unknown", w.kind(), w.toString());
                    continue;
                }
                if ("database-unavailable".equals(w.kind())) {
                    // the same race, the connection found closed before the write was sent (a CI run on a loaded
                    // machine): a 503 to retry, nothing saved
                    assertEquals(503, w.status(), w.toString());
                    continue;
                }
                assertEquals(503, w.status(), w.toString());
                assertEquals("database-read-only", w.kind());
                assertTrue(Integer.parseInt(w.retryAfter()) >= 1);
                refusedAsReadOnly++;
            }
            assertTrue(refusedAsReadOnly >= 0.8 * writes.size(), "writes are refused as read-only: " + writes);
            assertEquals(0, Http.metric("bastion_db_circuit_breaker_state", Map.of()), 0.001, "the breaker stayed closed");
            Management.given().get("/q/health/ready").then().statusCode(200)
                    .body("checks.find { it.name == 'database' }.data.readOnly", equalTo(true));
            given().auth().oauth2(AdminTokens.admin()).get("/admin/database/health").then().statusCode(200)
                    .body("summary.status", equalTo("read_only"));
            assertEquals(0, LimitedRoleResource.query("SELECT count(*) FROM customer WHERE email LIKE '%" + email + "'"));
        } finally {
            LimitedRoleResource.asSuperuser("ALTER DATABASE " + LimitedRoleResource.DATABASE
                    + " RESET default_transaction_read_only");
            LimitedRoleResource.endSessions();
        }
        given().contentType("application/json").body("{\"name\":\"Accepted\",\"email\":\"" + uniqueEmail() + "\"}")
                .post("/customers").then().statusCode(201);
    }
}
