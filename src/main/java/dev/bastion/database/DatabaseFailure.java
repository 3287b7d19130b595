package dev.bastion.database;

/**
 * A classified database failure: the kind plus what PostgreSQL told us about where it happened.
 * Any of the detail fields may be null when the driver did not report them.
 */
public record DatabaseFailure(FailureKind kind, String sqlState, String constraint, String table, String column) {

    public static DatabaseFailure of(FailureKind kind) {
        return new DatabaseFailure(kind, null, null, null, null);
    }

    /** The kind is retried, and this failure is not one a retry would meet again (a sequence at its maximum). */
    public boolean retryable() {
        return kind.retryable() && SqlStates.retryCanHelp(sqlState);
    }

    public DatabaseFailure withKind(FailureKind other) {
        return new DatabaseFailure(other, sqlState, constraint, table, column);
    }
}
