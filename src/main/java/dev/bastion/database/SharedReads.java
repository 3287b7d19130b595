package dev.bastion.database;

import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.SqlConnection;

/**
 * Reads by key that may share one statement while they wait for the pool together
 * ({@link UnitOfWork#readShared}). Under a crowd the pool, not PostgreSQL, is what reads queue for:
 * a place freed then answers up to {@link #most} queued reads with one statement ({@code WHERE id =
 * ANY($1)}) instead of one, which is what keeps the reads served per second at a crowd's size near
 * (or above) what the service serves to a few callers. With a free place each read runs alone
 * ({@link #one}), as a read always did.
 *
 * @param <K> the key
 * @param <T> what a read of one key answers (null: no such row)
 */
public final class SharedReads<K, T> {

    private final int most;
    private final BiFunction<SqlConnection, K, Uni<T>> one;
    private final BiFunction<SqlConnection, List<K>, Uni<Map<K, T>>> many;

    /**
     * @param most the most reads one statement answers
     * @param one  reads one key
     * @param many reads several keys at once: what it finds, by key (missing keys are not found)
     */
    public SharedReads(int most, BiFunction<SqlConnection, K, Uni<T>> one,
                       BiFunction<SqlConnection, List<K>, Uni<Map<K, T>>> many) {
        if (most < 1) {
            throw new IllegalArgumentException("most must be at least 1");
        }
        this.most = most;
        this.one = one;
        this.many = many;
    }

    int most() {
        return most;
    }

    Uni<T> one(SqlConnection connection, K key) {
        return one.apply(connection, key);
    }

    @SuppressWarnings("unchecked")
    Uni<Map<K, T>> many(SqlConnection connection, List<Object> keys) {
        return many.apply(connection, (List<K>) keys);
    }
}
