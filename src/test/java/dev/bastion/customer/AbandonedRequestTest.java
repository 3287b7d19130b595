package dev.bastion.customer;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Transfers.transferBody;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import dev.bastion.testing.Customers;
import dev.bastion.testing.HangingUpClient;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import dev.bastion.testing.ServerSettings;
import dev.bastion.testing.SingleConnectionProfile;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

/**
 * Units whose caller stops waiting: a client that hangs up, and the request deadline
 * (DB_REQUEST_TIMEOUT). With a pool of one connection, whatever an abandoned unit left on its
 * connection would meet the next request. The unit must end fully applied or fully absent, its
 * connection must come back outside any transaction, and a caller told "nothing saved" must be
 * told the truth.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(SingleConnectionProfile.class)
class AbandonedRequestTest {

    @Test
    void aTransferWhoseClientHangsUpIsAppliedWholeWithinItsDeadlineAndItsConnectionComesBackClean() throws Exception {
        long from = createCustomer("hangup-from@example.org", "100.00");
        long to = createCustomer("hangup-to@example.org", "100.00");
        long sent;
        long released;
        try (SecondClient locker = new SecondClient()) {
            locker.lockCustomer(from);
            sent = System.nanoTime();
            try (HangingUpClient client = HangingUpClient.post("/customers/transfers",
                    transferBody(from, to, "10"))) {
                SecondClient.awaitServiceBlocked(5000);
                Thread.sleep(1000); // the client gives up after a second, as curl --max-time 1 does
            }
            Thread.sleep(200);
            locker.rollback();
            released = System.nanoTime();
        }
        awaitNoServiceTransaction();

        long ledger = SecondClient.queryLong("SELECT count(*) FROM credit_transfer WHERE from_id = " + from);
        assertTrue(ledger <= 1, "applied at most once");
        if (withinDeadline(sent, released)) {
            // a hang-up does not cut the unit: it ran on once the row was free, within its deadline, and committed
            assertEquals(1, ledger, "the abandoned transfer was applied whole");
        }
        assertEquals(ledger == 1 ? "90.00" : "100.00", balance(from));
        assertEquals(ledger == 1 ? "110.00" : "100.00", balance(to));

        // the next write on the same (only) connection commits its own statements and nothing else
        given().contentType(ContentType.JSON).body("{\"amount\":5}").post("/customers/" + to + "/credit-adjustments")
                .then().statusCode(200);
        assertEquals(ledger, SecondClient.queryLong("SELECT count(*) FROM credit_transfer WHERE from_id = " + from));
        assertEquals(ledger == 1 ? "115.00" : "105.00", balance(to));
        awaitNoServiceTransaction();
    }

    @Test
    void anImportWhoseClientHangsUpInsideItsExplicitTransactionLeavesNoOpenTransaction() throws Exception {
        String body = """
                {"customers":[{"name":"One","email":"hangup-import-1@example.org"},
                              {"name":"Two","email":"hangup-import-held@example.org"},
                              {"name":"Three","email":"hangup-import-3@example.org"}]}""";
        long sent;
        long released;
        try (SecondClient holder = new SecondClient()) {
            // an uncommitted row with the same email: the import's insert waits on the unique index
            holder.execute("INSERT INTO customer (name, email) VALUES ('Holder', 'hangup-import-held@example.org')");
            sent = System.nanoTime();
            try (HangingUpClient client = HangingUpClient.post("/customers/import", body)) {
                SecondClient.awaitServiceBlocked(5000);
                Thread.sleep(1000);
            }
            Thread.sleep(200);
            holder.rollback();
            released = System.nanoTime();
        }
        awaitNoServiceTransaction();

        long imported = SecondClient.queryLong("SELECT count(*) FROM customer WHERE email LIKE 'hangup-import-%'");
        assertTrue(imported == 0 || imported == 3, "all three rows or none, was " + imported);
        if (withinDeadline(sent, released)) {
            assertEquals(3, imported, "the abandoned import ran on once the email was free, and committed whole");
        }

        given().contentType(ContentType.JSON).body("{\"name\":\"After\",\"email\":\"after-hangup-import@example.org\"}")
                .post("/customers").then().statusCode(201);
        assertEquals(imported, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email LIKE 'hangup-import-%'"));
        awaitNoServiceTransaction();
    }

    @Test
    void pastTheDeadlineBeforeCommitTheCallerGets503AndTheAbandonedAttemptRollsBack() throws Exception {
        long from = createCustomer("deadline-from@example.org", "100.00");
        long to = createCustomer("deadline-to@example.org", "100.00");
        Response response;
        long millis;
        try (SecondClient locker = new SecondClient()) {
            locker.lockCustomer(to);
            long start = System.nanoTime();
            response = given().contentType(ContentType.JSON)
                    .body(transferBody(from, to, "10")).post("/customers/transfers");
            millis = (System.nanoTime() - start) / 1_000_000;
            locker.rollback(); // the abandoned attempt gets its lock now, and must not commit
        }
        assertEquals(503, response.statusCode(), response.asString());
        assertEquals("request-deadline-exceeded", response.jsonPath().getString("kind"));
        assertTrue(response.header("Retry-After") != null);
        long deadline = SingleConnectionProfile.REQUEST_TIMEOUT_SECONDS * 1000L;
        // the upper bound leaves a loaded machine room; without the deadline the answer would take minutes
        assertTrue(millis >= deadline - 100 && millis < deadline + 5000, "answered after " + millis + " ms");

        awaitNoServiceTransaction();
        assertEquals(0, SecondClient.queryLong("SELECT count(*) FROM credit_transfer WHERE from_id = " + from));
        assertEquals("100.00", balance(from));
        assertEquals("100.00", balance(to));
    }

    @Test
    void aCommitThatStallsPastTheDeadlineIsReportedAsOutcomeUnknown() throws Exception {
        // a synchronous standby that never answers: COMMIT waits, as when the network to it goes silent.
        // The test server runs with synchronous_commit=off; a database setting beats that for new sessions.
        try (Connection c = PostgresResource.connect(); Statement s = c.createStatement()) {
            s.execute("ALTER DATABASE bastion SET synchronous_commit = on");
        }
        SecondClient.terminate(SecondClient.pids("SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion'"));
        given().get("/customers/0").then().statusCode(404); // the pool reconnects, with the new setting
        ServerSettings.set("synchronous_standby_names", "bastion_missing_standby");
        Response response;
        try {
            response = given().contentType(ContentType.JSON)
                    .body("{\"name\":\"Stalled\",\"email\":\"stalled-commit@example.org\"}").post("/customers");
        } finally {
            ServerSettings.reset("synchronous_standby_names", "");
            try (Connection c = PostgresResource.connect(); Statement s = c.createStatement()) {
                s.execute("ALTER DATABASE bastion RESET synchronous_commit");
            }
        }
        assertEquals(500, response.statusCode(), response.asString());
        assertEquals("commit-outcome-unknown", response.jsonPath().getString("kind"));
        assertNull(response.header("Retry-After"), "a write that may have committed must not invite blind retries");
        // released, the commit completes: the outcome really was unknown to the service, not "nothing saved"
        awaitNoServiceTransaction();
        assertEquals(1, SecondClient.queryLong("SELECT count(*) FROM customer WHERE email = 'stalled-commit@example.org'"));
        given().get("/customers?email=stalled-commit@example.org").then().statusCode(200);
    }

    private static String balance(long id) throws SQLException {
        return Customers.balance(id).setScale(2).toPlainString();
    }

    /** No service session stays inside a transaction (idle in transaction, or still working on one). */
    /**
     * Whether what blocked the unit was released well before its deadline (DB_REQUEST_TIMEOUT) ran
     * out: only then must it have committed; on a machine slow enough to pass the deadline first,
     * rolling back is the right outcome and "whole or nothing" is all that can be asserted.
     */
    private static boolean withinDeadline(long sentNanos, long releasedNanos) {
        long margin = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(800);
        return releasedNanos - sentNanos < java.util.concurrent.TimeUnit.SECONDS.toNanos(SingleConnectionProfile.REQUEST_TIMEOUT_SECONDS) - margin;
    }

    private static void awaitNoServiceTransaction() throws Exception {
        long deadline = System.currentTimeMillis() + 5000;
        List<Integer> open;
        do {
            open = SecondClient.pids("SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion' "
                    + "AND xact_start IS NOT NULL AND pid <> pg_backend_pid()");
            if (open.isEmpty()) {
                return;
            }
            Thread.sleep(20);
        } while (System.currentTimeMillis() < deadline);
        throw new AssertionError("service sessions still in a transaction: " + SecondClient.queryString(
                "SELECT string_agg(pid || ':' || state, ', ') FROM pg_stat_activity WHERE application_name = 'bastion'"));
    }
}
