package dev.bastion.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/**
 * The service as managed PostgreSQL runs it: a non-superuser role with a password checked by
 * scram-sha-256 (a pg_hba.conf rule of its own on the shared test server), owning a database of its
 * own, the password read from a file (DB_PASSWORD_FILE) as a Kubernetes Secret volume provides it.
 */
public class LimitedRoleResource implements QuarkusTestResourceLifecycleManager {

    public static final String ROLE = "bastion_app";
    public static final String DATABASE = "bastion_limited";
    public static final String FIRST_PASSWORD = "first-Secret-1";
    private static Path passwordFile;

    @Override
    public Map<String, String> start() {
        PostgresResource.server();
        try (Connection c = TestDatabases.open("postgres"); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + DATABASE + " WITH (FORCE)");
            s.execute("DROP ROLE IF EXISTS " + ROLE);
            s.execute("SET password_encryption = 'scram-sha-256'");
            s.execute("CREATE ROLE " + ROLE + " LOGIN PASSWORD '" + FIRST_PASSWORD + "'");
            s.execute("CREATE DATABASE " + DATABASE + " OWNER " + ROLE);
            requireScram(s);
            passwordFile = Files.createTempFile("bastion-db-password", "");
            writePassword(FIRST_PASSWORD + "\n"); // as `echo` writes it: the line end is not part of the password
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> config = PostgresResource.datasource(PostgresResource.port());
        config.put("quarkus.datasource.reactive.url", "postgresql://127.0.0.1:" + PostgresResource.port() + "/" + DATABASE);
        config.put("quarkus.datasource.username", ROLE);
        config.put("quarkus.datasource.password", "not-the-password"); // the file wins
        config.put("bastion.db.password-file", passwordFile.toString());
        return config;
    }

    /** This role logs in with scram-sha-256 over TCP; every other rule of the file stays as it was. */
    private static void requireScram(Statement s) throws SQLException, IOException {
        Path hba;
        try (ResultSet r = s.executeQuery("SHOW hba_file")) {
            r.next();
            hba = Path.of(r.getString(1));
        }
        String rules = Files.readString(hba);
        String ours = "host all " + ROLE + " 127.0.0.1/32 scram-sha-256\nhost all " + ROLE + " ::1/128 scram-sha-256\n";
        if (!rules.startsWith(ours)) {
            Files.writeString(hba, ours + rules);
        }
        s.execute("SELECT pg_reload_conf()");
    }

    /** What the kubelet does when the Secret changes: the file's content is replaced. */
    public static void writePassword(String content) throws IOException {
        Path next = Files.createTempFile(passwordFile.getParent(), "bastion-db-password", ".new");
        Files.writeString(next, content);
        Files.move(next, passwordFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Ends every session of the service's role, as a rotation or a DBA would. */
    public static void endSessions() throws SQLException {
        try (Connection c = TestDatabases.open("postgres"); Statement s = c.createStatement()) {
            s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '" + ROLE + "'");
        }
    }

    public static void asSuperuser(String sql) throws SQLException {
        try (Connection c = TestDatabases.open("postgres"); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    /** As a superuser, in the service's database (a REVOKE or GRANT on its tables). */
    public static void asSuperuserInItsDatabase(String sql) throws SQLException {
        try (Connection c = TestDatabases.open(DATABASE); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    public static long query(String sql) throws SQLException {
        try (Connection c = TestDatabases.open(DATABASE); Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }

    @Override
    public void stop() {
        try {
            asSuperuser("ALTER ROLE " + ROLE + " CONNECTION LIMIT -1");
        } catch (SQLException ignored) {
            // the server is going away with the JVM
        }
        try {
            Files.deleteIfExists(passwordFile); // a password left in the temporary directory of a shared machine
        } catch (IOException ignored) {
            // best effort
        }
    }
}
