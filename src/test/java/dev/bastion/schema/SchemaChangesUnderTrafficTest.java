package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import dev.bastion.testing.TestDatabases;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.Test;

/**
 * Schema changes while real sessions use the tables, each test on a database of its own: DDL that
 * cannot get its lock gives way instead of queueing every query behind it, an index built
 * concurrently never makes a writer wait, and a column renamed over two releases (expand, then
 * contract) keeps the pods of both releases working during the rolling update in between.
 */
class SchemaChangesUnderTrafficTest {

    @Test
    void ddlBehindAnOpenTransactionGivesWayAndCompletesOnceItEnds() throws Exception {
        String db = TestDatabases.fresh("ddl");
        TestMigrations.migrate(db);
        try (Connection reader = TestDatabases.open(db); Connection other = TestDatabases.open(db);
             Statement otherQueries = other.createStatement()) {
            reader.setAutoCommit(false);
            try (Statement read = reader.createStatement()) {
                read.executeQuery("SELECT count(*) FROM customer").close(); // ACCESS SHARE held until the transaction ends
            }
            // ALTER TABLE needs ACCESS EXCLUSIVE: without a lock timeout it would queue, and every query below behind it
            CompletableFuture<MigrateResult> migration = CompletableFuture.supplyAsync(
                    () -> TestMigrations.migrate(db, Duration.ofMillis(200), "db/test-alter/"));
            otherQueries.execute("SET statement_timeout = '1s'"); // "in their normal time": a query queued behind DDL fails
            int answered = 0;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < until) {
                try (ResultSet count = otherQueries.executeQuery("SELECT count(*) FROM customer")) {
                    assertTrue(count.next());
                }
                answered++;
                Thread.sleep(20);
            }
            assertTrue(answered > 10, "queries answered while the migration tried: " + answered);
            assertFalse(migration.isDone(), "the migration cannot finish while the transaction holds its lock");
            assertEquals(List.of("0"), TestDatabases.rows(db, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'"));

            reader.commit();
            MigrateResult done = migration.get(60, TimeUnit.SECONDS);
            assertEquals("100", done.targetSchemaVersion);
        }
        assertEquals(List.of("1"), TestDatabases.rows(db, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'"));
        assertEquals(List.of("0"), TestDatabases.rows(db, "SELECT count(*) FROM flyway_schema_history WHERE NOT success"),
                "the attempts that gave way left no failed row");
    }

    @Test
    void theConcurrentIndexBuildNeverMakesAWriterWait() throws Exception {
        String db = TestDatabases.fresh("cic");
        TestMigrations.migrate(db);
        // V5 again, on a ledger big enough that a plain CREATE INDEX would block writers for a while
        // (and what came after it: Flyway never applies a version below the newest applied one)
        TestDatabases.execute(db, "DROP INDEX credit_transfer_created_idx; DELETE FROM flyway_schema_history WHERE version::int >= 5;"
                + "INSERT INTO customer (name, email, credit_balance) VALUES ('A', 'a@x.org', 1000000), ('B', 'b@x.org', 0);"
                + "INSERT INTO credit_transfer (from_id, to_id, amount, created_at) SELECT 1, 2, 1, now() - g * interval '1 s' "
                + "FROM generate_series(1, 300000) g; ANALYZE credit_transfer");

        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger written = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicLong mostWaiting = new AtomicLong();
        Thread[] writers = new Thread[3];
        for (int i = 0; i < writers.length; i++) {
            writers[i] = new Thread(() -> {
                try (Connection c = TestDatabases.open(db); Statement s = c.createStatement()) {
                    s.execute("SET application_name = 'ledger-writer'");
                    while (running.get()) {
                        try {
                            s.execute("INSERT INTO credit_transfer (from_id, to_id, amount) VALUES (1, 2, 0.01)");
                            written.incrementAndGet();
                        } catch (SQLException e) {
                            failed.incrementAndGet();
                        }
                    }
                } catch (SQLException e) {
                    failed.incrementAndGet();
                }
            });
            writers[i].start();
        }
        // a writer waiting on the table's lock is what a blocking build would cause (a plain CREATE INDEX holds SHARE);
        // not the relation extension lock ('extend') three writers appending to one table take turns on anyway
        Thread watcher = new Thread(() -> {
            try (Connection c = TestDatabases.open(db); Statement s = c.createStatement()) {
                while (running.get()) {
                    try (ResultSet r = s.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ledger-writer' "
                            + "AND wait_event_type = 'Lock' AND wait_event = 'relation'")) {
                        r.next();
                        mostWaiting.accumulateAndGet(r.getLong(1), Math::max);
                    }
                }
            } catch (SQLException e) {
                failed.incrementAndGet();
            }
        });
        watcher.start();
        try {
            Thread.sleep(200);
            int before = written.get();
            MigrateResult run = TestMigrations.migrate(db);
            assertEquals("5", run.migrations.get(0).version);
            assertTrue(written.get() > before, "writes went on during the build");
        } finally {
            running.set(false);
            for (Thread writer : writers) {
                writer.join(10_000);
            }
            watcher.join(10_000);
        }
        assertEquals(0, failed.get(), "a write failed during the build");
        assertEquals(0, mostWaiting.get(), "a writer waited on the table's lock during the build");
        assertEquals(List.of("true"), TestDatabases.rows(db, "SELECT indisvalid::text FROM pg_index "
                + "WHERE indexrelid = 'credit_transfer_created_idx'::regclass"));
    }

    @Test
    void aColumnRenamedOverTwoReleasesKeepsBothReleasesWorking() throws Exception {
        String db = TestDatabases.fresh("rename");
        TestMigrations.migrate(db);
        TestDatabases.execute(db, "INSERT INTO customer (name, email, phone) VALUES ('Before', 'before@x.org', '+1 000')");

        TestMigrations.migrate(db, "db/expand/"); // release N+1 ships the expand step; release N pods still run
        TestDatabases.execute(db, "INSERT INTO customer (name, email, phone) VALUES ('Old pod', 'old@x.org', '+1 100')");
        TestDatabases.execute(db, "INSERT INTO customer (name, email, phone_number) VALUES ('New pod', 'new@x.org', '+1 200')");
        TestDatabases.execute(db, "UPDATE customer SET phone = '+1 101' WHERE email = 'old@x.org'");
        TestDatabases.execute(db, "UPDATE customer SET phone_number = '+1 201' WHERE email = 'new@x.org'");
        assertEquals(List.of("before@x.org +1 000 +1 000", "new@x.org +1 201 +1 201", "old@x.org +1 101 +1 101"),
                TestDatabases.rows(db, "SELECT email || ' ' || phone || ' ' || phone_number FROM customer ORDER BY email"),
                "each release reads what the other wrote");

        TestMigrations.migrate(db, "db/expand/", "db/contract/"); // release N+2: no release N pod is left
        assertEquals(List.of("0"), TestDatabases.rows(db, "SELECT count(*) FROM information_schema.columns "
                + "WHERE table_name = 'customer' AND column_name = 'phone'"));
        assertEquals(List.of("+1 000", "+1 201", "+1 101"), TestDatabases.rows(db, "SELECT phone_number FROM customer ORDER BY email"));
    }
}
