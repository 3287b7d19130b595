package dev.bastion.schema;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

import io.vertx.core.net.PemTrustOptions;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.SslMode;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.core.api.output.MigrateResult;
import org.flywaydb.database.postgresql.PostgreSQLConfigurationExtension;
import org.jboss.logging.Logger;

/**
 * Runs the shipped migrations with Flyway, over plain JDBC connections of its own (no pool) to where
 * the service's pool connects: the writer (DB_HOSTS), with the credentials as they are now
 * (DB_PASSWORD_FILE) and the same TLS mode. The history is Flyway's {@code flyway_schema_history},
 * so {@code flyway info}, {@code repair} and {@code baseline} work on it as operators know them.
 * <p>
 * DDL never waits in PostgreSQL's lock queue: each statement gives up after DB_MIGRATION_LOCK_TIMEOUT
 * (SQLSTATE 55P03), the migration's transaction rolls back, and the run is tried again with backoff
 * until DB_MIGRATION_TIMEOUT. While DDL queues for an ACCESS EXCLUSIVE lock behind a long
 * transaction, every new query on that table queues behind the DDL: a short lock timeout turns that
 * outage into a retry nobody notices. Runs of other pods or Jobs take turns on Flyway's advisory lock
 * (tried once a second up to DB_MIGRATION_TIMEOUT). A script Flyway cannot run in a transaction
 * ({@code CREATE INDEX CONCURRENTLY}) runs statement by statement; Flyway's session lock (not its
 * transactional one, which a concurrent index build would wait for until the end of time).
 */
public final class FlywayMigrations {

    private static final Logger LOG = Logger.getLogger(FlywayMigrations.class);
    static final String LOCK_NOT_AVAILABLE = "55P03";
    private static final long FIRST_BACKOFF_MILLIS = 250;
    private static final long LONGEST_BACKOFF_MILLIS = 5_000;

    private final Flyway flyway;
    private final Duration timeout;

    FlywayMigrations(PgConnectOptions target, Duration timeout, Duration lockTimeout, ShippedMigrations scripts) {
        this.timeout = timeout;
        FluentConfiguration config = Flyway.configure(FlywayMigrations.class.getClassLoader())
                .dataSource(jdbcUrl(target), target.getUser(), target.getPassword())
                .resourceProvider(scripts)
                .table("flyway_schema_history")
                // a newer release's migrations (rolled back to this one) are left alone, as Flyway does by default
                .ignoreMigrationPatterns("*:future")
                .validateMigrationNaming(true)
                .connectRetries(0)
                .lockRetryCount((int) Math.max(1, timeout.toSeconds()))
                .initSql("SET lock_timeout = " + lockTimeout.toMillis() + "; SET statement_timeout = " + timeout.toMillis()
                        + "; SET application_name = 'bastion-migrations'");
        config.getPluginRegister().getPlugin(PostgreSQLConfigurationExtension.class).setTransactionalLock(false);
        this.flyway = config.load();
    }

    /** Brings the schema up to this build's migrations; see the class comment for what is retried. */
    public MigrateResult migrate() {
        long deadline = System.nanoTime() + timeout.toNanos();
        long backoff = FIRST_BACKOFF_MILLIS;
        for (int attempt = 1; ; attempt++) {
            try {
                return flyway.migrate();
            } catch (FlywayException e) {
                long pause = ThreadLocalRandom.current().nextLong(backoff / 2, backoff + 1);
                if (!waitedForALock(e) || System.nanoTime() + pause * 1_000_000 > deadline) {
                    throw e;
                }
                LOG.warnf("Schema migration attempt %d gave up waiting for a table lock held by another session "
                        + "(DB_MIGRATION_LOCK_TIMEOUT); nothing of it is kept, trying again in %d ms", attempt, pause);
                forgetFailedAttempt();
                try {
                    Thread.sleep(pause);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                backoff = Math.min(backoff * 2, LONGEST_BACKOFF_MILLIS);
            }
        }
    }

    /**
     * A script that runs outside a transaction leaves a failed row in the history (Flyway cannot roll
     * it back); a lock timeout changed nothing it could not run again (the shipped concurrent index
     * builds drop an invalid leftover first), so that row goes, as {@code flyway repair} would remove
     * it. Only rows of failed runs: checksums are never realigned here.
     */
    private void forgetFailedAttempt() {
        try (var connection = flyway.getConfiguration().getDataSource().getConnection();
             var statement = connection.createStatement()) {
            statement.execute("DELETE FROM flyway_schema_history WHERE NOT success");
        } catch (SQLException e) {
            LOG.debugf("No failed history row removed: %s", e.getMessage());
        }
    }

    static boolean waitedForALock(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && LOCK_NOT_AVAILABLE.equals(sql.getSQLState())) {
                return true;
            }
        }
        return false;
    }

    static String jdbcUrl(PgConnectOptions target) {
        StringBuilder url = new StringBuilder("jdbc:postgresql://").append(target.getHost()).append(':').append(target.getPort())
                .append('/').append(target.getDatabase());
        // unnamed statements only: a migration runs each statement once, and nothing named is left on a
        // server connection a pooler hands to somebody else
        url.append("?connectTimeout=").append(Math.max(1, target.getConnectTimeout() / 1000)).append("&tcpKeepAlive=true")
                .append("&prepareThreshold=0");
        SslMode ssl = target.getSslMode();
        if (ssl != null) {
            url.append("&sslmode=").append(ssl.name().toLowerCase(Locale.ROOT).replace('_', '-'));
        }
        // verify-ca / verify-full against the CA the pool trusts (a PEM file)
        if (target.getSslOptions() != null && target.getSslOptions().getTrustOptions() instanceof PemTrustOptions pem
                && !pem.getCertPaths().isEmpty()) {
            url.append("&sslrootcert=").append(java.net.URLEncoder.encode(pem.getCertPaths().get(0), java.nio.charset.StandardCharsets.UTF_8));
        }
        return url.toString();
    }
}
