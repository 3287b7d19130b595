package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import dev.bastion.customer.CustomerRepository;
import dev.bastion.idempotency.IdempotencyKeys;
import dev.bastion.note.CustomerNoteRepository;
import dev.bastion.testing.TestDatabases;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every statement on the request path is an index lookup, whatever the table sizes: the shipped
 * schema on a real PostgreSQL, 300,000 customers, notes, idempotency keys (half expired) and ledger rows,
 * analysed, so the planner chooses freely, and EXPLAIN of each statement must show no sequential
 * scan. The statements are the code's own SQL (read from its constants) and the ones Hibernate
 * generates for the entity queries, written out here as it sends them.
 */
class QueryPlansTest {

    private static final int ROWS = 300_000;
    private static String db;
    private static Connection connection;

    @BeforeAll
    static void largeTables() throws Exception {
        db = TestDatabases.fresh("plans");
        connection = TestDatabases.open(db);
        connection.setAutoCommit(true);
        try (Statement s = connection.createStatement(); Stream<Path> files = Files.list(Path.of("src/main/resources/db/migration"))) {
            for (Path migration : files.filter(f -> f.getFileName().toString().matches("V\\d+__.*\\.sql")).sorted(
                    (a, b) -> Integer.compare(version(a), version(b))).toList()) {
                s.execute(Files.readString(migration));
            }
            s.execute("INSERT INTO customer (name, email, status, credit_balance) SELECT 'Customer ' || i, "
                    + "'customer-' || i || '@example.org', 'ACTIVE', 100 FROM generate_series(1, " + ROWS + ") i");
            s.execute("INSERT INTO idempotency_key (operation, idempotency_key, request_hash, expires_at, response_status) "
                    + "SELECT 'customer.create', 'key-' || i, 'hash', now() + CASE WHEN i % 2 = 0 THEN interval '1 day' "
                    + "ELSE interval '-1 day' END, 201 FROM generate_series(1, " + ROWS + ") i");
            s.execute("INSERT INTO credit_transfer (from_id, to_id, amount) SELECT 1 + i % " + ROWS + ", 1 + (i + 1) % "
                    + ROWS + ", 1 FROM generate_series(1, " + ROWS + ") i");
            s.execute("INSERT INTO customer_note (customer_id, body) SELECT 1 + i % " + ROWS + ", 'note ' || i "
                    + "FROM generate_series(1, " + ROWS + ") i");
            s.execute("ANALYZE");
        }
    }

    @AfterAll
    static void close() throws SQLException {
        connection.close();
    }

    private static int version(Path migration) {
        String name = migration.getFileName().toString();
        return Integer.parseInt(name.substring(1, name.indexOf("__")));
    }

    /** The request path's statements, with literal values for their parameters. */
    private static Map<String, String> requestPath() throws Exception {
        Map<String, String> statements = new LinkedHashMap<>();
        statements.put("read by id", constant(CustomerRepository.class, "SELECT_BY_ID").replace("$1", "123456"));
        statements.put("version of", constant(CustomerRepository.class, "VERSION_OF").replace("$1", "123456"));
        statements.put("create", constant(CustomerRepository.class, "INSERT")
                .replace("$1", "'n'").replace("$2", "'new@example.org'").replace("$3", "NULL").replace("$4", "'ACTIVE'")
                .replace("$5", "0"));
        statements.put("profile update", constant(CustomerRepository.class, "UPDATE_PROFILE")
                .replace("$1", "123456").replace("$2", "'n'").replace("$3", "'e@example.org'").replace("$4", "NULL")
                .replace("$5", "'ACTIVE'").replace("$6", "0"));
        statements.put("customer exists", constant(CustomerRepository.class, "EXISTS").replace("$1", "123456"));
        statements.put("keyset page", constant(CustomerRepository.class, "PAGE_AFTER").replace("$1", "250000").replace("$2", "20"));
        statements.put("offset page", constant(CustomerRepository.class, "PAGE").replace("$1", "20").replace("$2", "9980"));
        statements.put("lookup by email", constant(CustomerRepository.class, "BY_EMAIL").replace("$1", "'customer-777@example.org'"));
        statements.put("notes page", constant(CustomerNoteRepository.class, "PAGE").replace("$1", "123456").replace("$2", "20")
                .replace("$3", "0"));
        statements.put("notes count", constant(CustomerNoteRepository.class, "COUNT").replace("$1", "123456"));
        statements.put("one note", constant(CustomerNoteRepository.class, "ONE").replace("$1", "77").replace("$2", "123456"));
        statements.put("credit adjustment", constant(CustomerRepository.class, "ADD_CREDIT")
                .replace(":amount", "5").replace(":id", "123456"));
        statements.put("key claim", constant(IdempotencyKeys.class, "CLAIM").replace(":operation", "'customer.create'")
                .replace(":key", "'key-77'").replace(":hash", "'hash'").replace(":ttl", "86400"));
        // a repeat's read of the stored answer: Hibernate's load of idempotency.StoredKey by its embedded id
        statements.put("key lookup", "SELECT k.request_hash, k.resource_id, k.response_body, k.response_status "
                + "FROM idempotency_key k WHERE (k.idempotency_key, k.operation) = ('key-77', 'customer.create')");
        statements.put("key completion", constant(IdempotencyKeys.class, "COMPLETE").replace(":status", "201")
                .replace(":body", "'{}'").replace(":resource", "1").replace(":operation", "'customer.create'")
                .replace(":key", "'key-77'"));
        statements.put("expired-key cleanup batch", constant(IdempotencyKeys.class, "DELETE_EXPIRED_BATCH")
                .replace("$1", "500").replace("$2", "42"));
        // what Hibernate Reactive sends for the entity queries (CustomerRepository, CreditTransferRepository)
        String columns = "c.id, c.created_at, c.credit_balance, c.email, c.name, c.phone, c.status, c.updated_at, c.version";
        statements.put("transfer: lock a row", "SELECT " + columns + " FROM customer c WHERE c.id = 123456 FOR NO KEY UPDATE");
        statements.put("transfer: ledger row", "INSERT INTO credit_transfer (from_id, to_id, amount) VALUES (1, 2, 5)");
        statements.put("delete a customer (its ledger rows checked by the foreign keys)", "DELETE FROM customer WHERE id = 123456");
        return statements;
    }

    private static String constant(Class<?> owner, String name) throws ReflectiveOperationException {
        Field field = owner.getDeclaredField(name);
        field.setAccessible(true);
        return (String) field.get(null);
    }

    @Test
    void everyStatementOnTheRequestPathIsAnIndexLookup() throws Exception {
        List<String> sequential = new ArrayList<>();
        StringBuilder plans = new StringBuilder();
        for (Map.Entry<String, String> statement : requestPath().entrySet()) {
            String plan = explain(statement.getValue());
            plans.append(statement.getKey()).append(":\n").append(plan).append('\n');
            if (plan.contains("Seq Scan")) {
                sequential.add(statement.getKey());
            }
        }
        assertTrue(sequential.isEmpty(), "sequential scans on the request path " + sequential + ":\n" + plans);
    }

    @Test
    void aForeignKeyCheckOfTheLedgerUsesItsIndexes() throws Exception {
        // deleting a customer checks credit_transfer for rows that name it, through from_id and to_id:
        // without their indexes that check reads the whole ledger
        String plan = explain("SELECT 1 FROM ONLY credit_transfer x WHERE 123456 = x.from_id FOR KEY SHARE OF x")
                + explain("SELECT 1 FROM ONLY credit_transfer x WHERE 123456 = x.to_id FOR KEY SHARE OF x");
        assertFalse(plan.contains("Seq Scan"), plan);
    }

    private static String explain(String sql) throws SQLException {
        StringBuilder plan = new StringBuilder();
        try (Statement s = connection.createStatement(); ResultSet rows = s.executeQuery("EXPLAIN " + sql)) {
            while (rows.next()) {
                plan.append("  ").append(rows.getString(1)).append('\n');
            }
        }
        return plan.toString();
    }
}
