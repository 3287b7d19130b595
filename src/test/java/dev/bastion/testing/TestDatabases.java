package dev.bastion.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Databases of their own on the test server, for tests of what the service does to a schema. */
public final class TestDatabases {

    private static final AtomicInteger CREATED = new AtomicInteger();

    private TestDatabases() {
    }

    /** A new, empty database (dropped first when a run before left it behind); returns its name. */
    public static String fresh(String prefix) throws SQLException {
        String name = prefix + "_" + ProcessHandle.current().pid() + "_" + CREATED.incrementAndGet();
        try (Connection c = open("postgres"); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name);
            s.execute("CREATE DATABASE " + name);
        }
        return name;
    }

    /** The first column of every row of a query, as text. */
    public static List<String> rows(String db, String sql) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Connection c = open(db); Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            while (r.next()) {
                rows.add(r.getString(1));
            }
        }
        return rows;
    }

    /** Runs statements that return no rows. */
    public static void execute(String db, String sql) throws SQLException {
        try (Connection c = open(db); Statement s = c.createStatement()) {
            if (s.execute(sql)) {
                throw new IllegalArgumentException("a query, not a statement: " + sql);
            }
        }
    }

    /** A connection of the caller's own, e.g. to hold a lock while the service under test runs. */
    public static Connection open(String db) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + PostgresResource.port() + "/" + db, "postgres", "postgres");
    }
}
