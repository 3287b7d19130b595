package dev.bastion.database;

/**
 * A database failure after classification: what every layer above the unit of work sees. The
 * original driver exception stays attached as the cause for logs, never for responses.
 */
public class DatabaseException extends RuntimeException {

    private final DatabaseFailure failure;
    private final String operation;

    public DatabaseException(DatabaseFailure failure, String operation, Throwable cause) {
        super(failure.kind() + " in " + operation + (failure.sqlState() == null ? "" : " (SQLSTATE " + failure.sqlState() + ")"),
                cause, false, true);
        this.failure = failure;
        this.operation = operation;
    }

    public DatabaseFailure failure() {
        return failure;
    }

    public FailureKind kind() {
        return failure.kind();
    }

    public String operation() {
        return operation;
    }

    /** True when {@code t} is a classified failure of the given kind: for Mutiny {@code onFailure(...)} filters. */
    public static boolean hasKind(Throwable t, FailureKind kind) {
        return t instanceof DatabaseException e && e.kind() == kind;
    }
}
