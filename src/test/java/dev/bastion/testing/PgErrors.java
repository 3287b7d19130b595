package dev.bastion.testing;

import io.vertx.pgclient.PgException;

/**
 * The errors the Vert.x pg client raises for a PostgreSQL error response, built with its public
 * constructors: the value the driver produces, for unit tests of the classification (not a mock of
 * the database).
 */
public final class PgErrors {

    private PgErrors() {
    }

    /** An ERROR with {@code sqlState} that names where it happened (any of the three may be null). */
    public static PgException pg(String sqlState, String constraint, String table, String column) {
        return new PgException("message", "ERROR", sqlState, "detail", null, null, null, null, null, null, null, null,
                "public", table, column, null, constraint);
    }

    /** An error with {@code sqlState} and PostgreSQL's own message text, at {@code severity} (ERROR, FATAL). */
    public static PgException pg(String severity, String sqlState, String message) {
        return new PgException(message, severity, sqlState, null);
    }
}
