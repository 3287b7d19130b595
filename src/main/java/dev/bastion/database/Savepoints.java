package dev.bastion.database;

import java.util.function.Supplier;

import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import jakarta.inject.Singleton;

/**
 * Nested units of work inside a running transaction. A step runs after a SAVEPOINT; if the
 * database rejects it, the transaction rolls back to the savepoint and goes on, and the step's
 * failure is returned as a value instead of failing the whole unit.
 * <p>
 * After a rollback to a savepoint the session's persistence context is cleared: entities it held
 * may describe writes that no longer exist. Work after a failed step must re-read what it needs.
 * Only database rejections are absorbed; a lost connection still fails the whole unit.
 */
@Singleton
public class Savepoints {

    private final TransactionListeners events;

    public Savepoints(TransactionListeners events) {
        this.events = events;
    }

    private static final String EXPLICIT_TRANSACTION = "bastion.explicit-transaction";

    /** The local holds how deep the running step is nested: 0 in the transaction itself, outside any step. */
    static void enterExplicitTransaction() {
        Vertx.currentContext().putLocal(EXPLICIT_TRANSACTION, 0);
    }

    static void leaveExplicitTransaction() {
        Context context = Vertx.currentContext();
        if (context != null) {
            context.removeLocal(EXPLICIT_TRANSACTION);
        }
    }

    /**
     * Runs {@code step} in a savepoint of the current unit of work, which must have been started
     * with {@link TransactionSpec#withSavepoints()}.
     */
    public <T> Uni<StepResult<T>> nested(String operation, Supplier<Uni<T>> step) {
        Context context = Vertx.currentContext();
        Integer outer = context == null ? null : context.getLocal(EXPLICIT_TRANSACTION);
        if (outer == null) {
            return Uni.createFrom().failure(new IllegalStateException(
                    "Savepoints need a unit of work started with TransactionSpec.withSavepoints()"));
        }
        // named by depth, not uniquely: steps one after another reuse one name (PostgreSQL's newest savepoint of
        // a name is the one RELEASE and ROLLBACK TO mean), so the statements are the same few SQL texts whatever
        // the number of rows, where a name per step made every statement a new one for Hibernate's plan cache
        int depth = outer + 1;
        String name = "bastion_step_" + depth;
        context.putLocal(EXPLICIT_TRANSACTION, depth);
        return Panache.getSession().chain(session -> session.createNativeQuery("SAVEPOINT " + name).executeUpdate()
                .chain(ignored -> step.get())
                .call(Panache::flush)
                .call(() -> session.createNativeQuery("RELEASE SAVEPOINT " + name).executeUpdate())
                .map(StepResult::succeeded)
                .onFailure(Savepoints::isRecoverable).recoverWithUni(error -> {
                    DatabaseFailure failure = FailureClassifier.classify(error);
                    session.clear();
                    return session.createNativeQuery("ROLLBACK TO SAVEPOINT " + name).executeUpdate()
                            .invoke(() -> events.savepointRolledBack(operation, failure))
                            .replaceWith(StepResult.<T>failed(failure));
                })
                .onTermination().invoke(() -> context.putLocal(EXPLICIT_TRANSACTION, outer)));
    }

    // Rejections of this step's data can be undone; losing the connection or the transaction cannot.
    private static boolean isRecoverable(Throwable error) {
        if (!FailureClassifier.isDatabaseFailure(error)) {
            return false;
        }
        FailureKind kind = FailureClassifier.classify(error).kind();
        return kind.isConstraintViolation() || kind == FailureKind.INVALID_DATA;
    }

    /** The outcome of a nested step: its value, or why the database rejected it. */
    public record StepResult<T>(T value, DatabaseFailure failure) {

        static <T> StepResult<T> succeeded(T value) {
            return new StepResult<>(value, null);
        }

        static <T> StepResult<T> failed(DatabaseFailure failure) {
            return new StepResult<>(null, failure);
        }

        public boolean ok() {
            return failure == null;
        }
    }
}
