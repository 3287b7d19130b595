package dev.bastion.testing;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Changes a setting of the running test PostgreSQL for every session, existing ones included
 * (ALTER SYSTEM + reload), as an operator or a failover would. Always reset in a finally block:
 * the server is shared by all test classes.
 */
public final class ServerSettings {

    private ServerSettings() {
    }

    public static void set(String name, String value) throws Exception {
        apply("ALTER SYSTEM SET " + name + " = '" + value.replace("'", "''") + "'", name, value);
    }

    public static void reset(String name, String defaultValue) throws Exception {
        apply("ALTER SYSTEM RESET " + name, name, defaultValue);
    }

    private static void apply(String statement, String name, String expected) throws Exception {
        try (Connection c = PostgresResource.connect(); Statement s = c.createStatement()) {
            s.execute(statement);
            s.execute("SELECT pg_reload_conf()");
        }
        long deadline = System.currentTimeMillis() + 5000;
        while (!expected.equals(current(name))) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError(name + " did not become " + expected);
            }
            Thread.sleep(10);
        }
        Thread.sleep(100); // idle backends apply a reload at their next command; give the signal time to land
    }

    private static String current(String name) throws SQLException {
        try (Connection c = PostgresResource.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('" + name + "')")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
