package dev.bastion.database;

/**
 * The failure of one attempt of a unit of work, refined by when it happened. A pure function of
 * the spec, the error and whether COMMIT had been sent; {@link UnitOfWork} reports and acts on it.
 *
 * @param classified     what {@link FailureClassifier} made of the error
 * @param reported       the kind the attempt fails with: COMMIT_OUTCOME_UNKNOWN for a connection lost
 *                       after COMMIT was sent by work that is not idempotent, ROLLBACK_FAILED when a
 *                       failure that is not retried could not be rolled back on its connection
 * @param rollbackFailed the attempt's transaction could not be rolled back on its connection
 */
record AttemptFailure(DatabaseFailure classified, DatabaseFailure reported, boolean rollbackFailed) {

    /** An attempt of a session unit: always in a transaction block. */
    static AttemptFailure of(TransactionSpec spec, Throwable error, boolean commitStarted) {
        return of(spec, true, error, commitStarted);
    }

    /**
     * @param inTransaction whether the attempt ran in a transaction block, which a lost connection
     *                      or a failed ROLLBACK leaves without a clean rollback (a single autocommit
     *                      statement has none to lose)
     */
    static AttemptFailure of(TransactionSpec spec, boolean inTransaction, Throwable error, boolean commitStarted) {
        DatabaseFailure failure = FailureClassifier.classify(error);
        if (commitStarted && failure.kind() == FailureKind.CONNECTION && !spec.idempotent()
                && !FailureClassifier.neverSent(error)) {
            return new AttemptFailure(failure, failure.withKind(FailureKind.COMMIT_OUTCOME_UNKNOWN), false);
        }
        if (inTransaction && (failure.kind() == FailureKind.CONNECTION || FailureClassifier.rollbackFailed(error))) {
            // The rollback could not run on this connection. PostgreSQL rolls back a dead session
            // itself, and the pool never hands out a closed connection again.
            DatabaseFailure reported = failure.kind().retryable() ? failure : failure.withKind(FailureKind.ROLLBACK_FAILED);
            return new AttemptFailure(failure, reported, true);
        }
        return new AttemptFailure(failure, failure, false);
    }
}
