package dev.bastion.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Another PostgreSQL client beside the service, for failure injection: it holds row locks, sees
 * what the service's backends wait on, and terminates them.
 */
public final class SecondClient implements AutoCloseable {

    private final Connection connection;

    public SecondClient() throws SQLException {
        connection = PostgresResource.connect();
        connection.setAutoCommit(false);
        try (Statement s = connection.createStatement()) {
            // the service's backend must be the one that detects (and loses) a deadlock
            s.execute("SET deadlock_timeout = '10s'");
        }
        connection.commit();
    }

    /** This client's backend, as pg_stat_activity and the admin diagnostics name it. */
    public int pid() throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    public void lockCustomer(long id) throws SQLException {
        try (PreparedStatement s = connection.prepareStatement("SELECT id FROM customer WHERE id = ? FOR UPDATE")) {
            s.setLong(1, id);
            s.executeQuery().close();
        }
    }

    public void execute(String sql) throws SQLException {
        try (Statement s = connection.createStatement()) {
            s.execute(sql);
        }
    }

    public void commit() throws SQLException {
        connection.commit();
    }

    public void rollback() throws SQLException {
        connection.rollback();
    }

    @Override
    public void close() throws SQLException {
        connection.rollback();
        connection.close();
    }

    /** Service backends currently waiting for a lock. */
    public static List<Integer> serviceBackendsWaitingForLocks() throws SQLException {
        return pids("SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion' AND wait_event_type = 'Lock'");
    }

    /** Service backends currently running exactly {@code statement} (e.g. "COMMIT"). */
    public static List<Integer> serviceBackendsRunning(String statement) throws SQLException {
        return pids("SELECT pid FROM pg_stat_activity WHERE application_name = 'bastion' AND state = 'active' AND query = '"
                + statement.replace("'", "''") + "'");
    }

    /** Waits up to {@code millis} for a service backend to block on a lock; returns their pids. */
    public static List<Integer> awaitServiceBlocked(long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < deadline) {
            List<Integer> waiting = serviceBackendsWaitingForLocks();
            if (!waiting.isEmpty()) {
                return waiting;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no service backend blocked on a lock within " + millis + " ms; backends: "
                + queryString("SELECT string_agg(application_name || ':' || coalesce(wait_event_type, '-') || ':' || state, ', ') FROM pg_stat_activity WHERE datname = 'bastion'"));
    }

    public static void terminate(List<Integer> pids) throws SQLException {
        signal("pg_terminate_backend", pids);
    }

    /** An operator's pg_cancel_backend: the backends' running statements fail with 57014, their sessions live on. */
    public static void cancel(List<Integer> pids) throws SQLException {
        signal("pg_cancel_backend", pids);
    }

    private static void signal(String function, List<Integer> pids) throws SQLException {
        try (Connection c = PostgresResource.connect();
             PreparedStatement s = c.prepareStatement("SELECT " + function + "(?)")) {
            for (int pid : pids) {
                s.setInt(1, pid);
                s.executeQuery().close();
            }
        }
    }

    public static long queryLong(String sql) throws SQLException {
        try (Connection c = PostgresResource.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    public static String queryString(String sql) throws SQLException {
        try (Connection c = PostgresResource.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** The first column of every row {@code sql} returns, as text. */
    public static List<String> strings(String sql) throws SQLException {
        List<String> values = new ArrayList<>();
        try (Connection c = PostgresResource.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                values.add(rs.getString(1));
            }
        }
        return values;
    }

    public static List<Integer> pids(String sql) throws SQLException {
        return strings(sql).stream().map(Integer::valueOf).toList();
    }
}
