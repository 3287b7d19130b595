package dev.bastion.database;

/**
 * The server is older than the oldest PostgreSQL this build runs on: Hibernate ORM's minimum for its
 * PostgreSQL dialect, 13 with Hibernate ORM 7.2 (7.4 raises it to 14: update {@link #OLDEST_MAJOR}
 * with Quarkus). Checked on the connections the service opens anyway, the migration's (start-up stops)
 * and the readiness probe's (the service is not ready), from the version the server reports at login,
 * instead of by Hibernate ORM on a connection of its own at every start
 * ({@code quarkus.hibernate-orm.database.version-check.enabled=false}).
 */
public class UnsupportedPostgresException extends IllegalStateException {

    public static final int OLDEST_MAJOR = 13;

    private UnsupportedPostgresException(String fullVersion) {
        super("PostgreSQL " + fullVersion + " is older than " + OLDEST_MAJOR + ", the oldest this build supports");
    }

    /** Fails on a server older than {@link #OLDEST_MAJOR}. */
    public static void requireSupported(int majorVersion, String fullVersion) {
        if (majorVersion < OLDEST_MAJOR) {
            throw new UnsupportedPostgresException(fullVersion);
        }
    }
}
