package dev.bastion.database;

/** A failed attempt that the unit of work will run again: the only exception its retry policy retries. */
final class RetryableDatabaseException extends DatabaseException {

    RetryableDatabaseException(DatabaseFailure failure, String operation, Throwable cause) {
        super(failure, operation, cause);
    }
}
