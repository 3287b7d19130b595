package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.bastion.schema.SchemaMigrations.MigrationRun;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.TestDatabases;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.PoolOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The migrations against real PostgreSQL databases, each test on a database of its own: the order and
 * form of the history, pods starting together, a migration that fails half-way, and histories this
 * build must refuse or leave alone.
 */
class SchemaMigrationsTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static Vertx vertx;
    private final List<Pool> pools = new ArrayList<>();

    @BeforeAll
    static void startVertx() {
        vertx = Vertx.vertx();
    }

    @AfterAll
    static void stopVertx() {
        vertx.closeAndAwait();
    }

    @Test
    void aFreshDatabaseGetsEveryMigrationRecordedAsFlywayRecordsIt() throws Exception {
        String db = TestDatabases.fresh("schema");
        MigrationRun run = migrate(db, ShippedMigrations.load());

        assertEquals(List.of(1, 2, 3, 4), run.applied().stream().map(Migration::version).toList());
        List<String> history = TestDatabases.rows(db, "SELECT installed_rank || ' ' || version || ' ' || description || ' ' || type || ' ' "
                + "|| script || ' ' || checksum || ' ' || installed_by || ' ' || success FROM flyway_schema_history ORDER BY 1");
        assertEquals(List.of(
                "1 1 customer SQL db/migration/V1__customer.sql " + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(1) + " postgres true",
                "2 2 idempotency key SQL db/migration/V2__idempotency_key.sql " + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(2) + " postgres true",
                "3 3 credit transfer SQL db/migration/V3__credit_transfer.sql " + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(3) + " postgres true",
                "4 4 named transfer foreign keys SQL db/migration/V4__named_transfer_foreign_keys.sql "
                        + ShippedMigrationsTest.FLYWAY_CHECKSUMS.get(4) + " postgres true"), history);
        assertEquals(List.of("credit_transfer", "customer", "customer_note", "idempotency_key"),
                TestDatabases.rows(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'flyway%' ORDER BY 1"));

        MigrationRun again = migrate(db, ShippedMigrations.load());
        assertTrue(again.applied().isEmpty(), "an up-to-date schema runs nothing");
        assertEquals(List.of("4"), TestDatabases.rows(db, "SELECT count(*) FROM flyway_schema_history"));
    }

    @Test
    void podsStartingTogetherApplyEachMigrationOnce() throws Exception {
        String db = TestDatabases.fresh("schema");
        List<Uni<MigrationRun>> starts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            starts.add(SchemaMigrations.migrate(pool(db), ShippedMigrations.load(), WAIT)); // a pool per pod
        }
        List<MigrationRun> runs = Uni.join().all(starts).andFailFast().await().atMost(WAIT);

        assertEquals(4, runs.stream().mapToInt(r -> r.applied().size()).sum(), "each migration ran in exactly one pod");
        assertEquals(List.of("1", "2", "3", "4"), TestDatabases.rows(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank"));
    }

    @Test
    void aMigrationThatFailsHalfWayLeavesNothingBehind() throws Exception {
        String db = TestDatabases.fresh("schema");
        List<Migration> withBrokenFifth = new ArrayList<>(ShippedMigrations.load());
        withBrokenFifth.add(Migration.of("db/migration/V5__half_done.sql",
                "CREATE TABLE half_done (id int);\nALTER TABLE customer ADD COLUMN half int;\nSELECT 1 / 0;\n"));

        IllegalStateException failure = assertThrows(IllegalStateException.class, () -> migrate(db, withBrokenFifth));
        assertTrue(failure.getMessage().contains("migration 5 (db/migration/V5__half_done.sql) failed"), failure.getMessage());
        assertEquals(List.of("0"), TestDatabases.rows(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
                "one transaction: the four good migrations rolled back with the broken one");

        migrate(db, ShippedMigrations.load());
        assertThrows(IllegalStateException.class, () -> migrate(db, withBrokenFifth));
        assertEquals(List.of("4"), TestDatabases.rows(db, "SELECT count(*) FROM flyway_schema_history"), "no failed row is recorded");
        assertEquals(List.of("0"), TestDatabases.rows(db, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'half'"));
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('half_done')::text, '')"));
    }

    @Test
    void aFileChangedAfterItWasAppliedStopsTheMigration() throws Exception {
        String db = TestDatabases.fresh("schema");
        migrate(db, ShippedMigrations.load());
        TestDatabases.execute(db, "UPDATE flyway_schema_history SET checksum = checksum + 1 WHERE version = '2'");
        List<Migration> withFifth = new ArrayList<>(ShippedMigrations.load());
        withFifth.add(Migration.of("db/migration/V5__fifth.sql", "CREATE TABLE fifth (id int);"));

        SchemaMismatchException refused = assertThrows(SchemaMismatchException.class, () -> migrate(db, withFifth));
        assertTrue(refused.getMessage().contains("migration 2 (idempotency key) changed after it was applied"), refused.getMessage());
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('fifth')::text, '')"), "nothing pending ran");
    }

    @Test
    void aRecordedFailureStopsTheMigrationUntilRepaired() throws Exception {
        String db = TestDatabases.fresh("schema");
        migrate(db, ShippedMigrations.load());
        recordFifth(db, "broken", false);

        SchemaMismatchException refused = assertThrows(SchemaMismatchException.class, () -> migrate(db, ShippedMigrations.load()));
        assertTrue(refused.getMessage().contains("migration 5 (broken) is recorded as failed"), refused.getMessage());
    }

    @Test
    void migrationsOfANewerReleaseAreLeftAlone() throws Exception {
        String db = TestDatabases.fresh("schema");
        migrate(db, ShippedMigrations.load());
        recordFifth(db, "newer release", true);

        MigrationRun run = migrate(db, ShippedMigrations.load());
        assertTrue(run.applied().isEmpty());
        assertEquals(List.of("5"), run.newerThanThisBuild().stream().map(AppliedMigration::version).toList());
    }

    @Test
    void aShippedMigrationOlderThanAnAppliedOneIsRefused() throws Exception {
        String db = TestDatabases.fresh("schema");
        List<Migration> shipped = ShippedMigrations.load();
        // a newer release's V5 went in while this build's V3 and V4 never ran: running them now would
        // apply them out of order
        migrate(db, List.of(shipped.get(0), shipped.get(1), Migration.of("db/migration/V5__newer.sql", "SELECT 5;")));

        SchemaMismatchException refused = assertThrows(SchemaMismatchException.class, () -> migrate(db, shipped));
        assertTrue(refused.getMessage().contains("migration 3 (credit transfer) is older than migration 5"), refused.getMessage());
        assertEquals(List.of(""), TestDatabases.rows(db, "SELECT coalesce(to_regclass('credit_transfer')::text, '')"));
    }

    @AfterEach
    void closePools() {
        pools.forEach(Pool::closeAndAwait);
        pools.clear();
    }

    private MigrationRun migrate(String db, List<Migration> shipped) {
        return SchemaMigrations.migrate(pool(db), shipped, WAIT).await().atMost(WAIT);
    }

    private Pool pool(String db) {
        PgConnectOptions options = new PgConnectOptions().setHost("localhost").setPort(PostgresResource.port())
                .setDatabase(db).setUser("postgres").setPassword("postgres");
        Pool pool = Pool.newInstance(PgBuilder.pool().connectingTo(options).with(new PoolOptions().setMaxSize(2))
                .using(vertx.getDelegate()).build());
        pools.add(pool);
        return pool;
    }

    /** A history row for a migration 5 this build does not ship, as Flyway writes one. */
    private static void recordFifth(String db, String description, boolean success) throws SQLException {
        TestDatabases.execute(db, "INSERT INTO flyway_schema_history VALUES (5, '5', '" + description + "', 'SQL', 'db/migration/V5__"
                + description.replace(' ', '_') + ".sql', 7, 'postgres', now(), 3, " + success + ")");
    }
}
