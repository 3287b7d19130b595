package dev.bastion.database;

import java.lang.reflect.Field;
import java.util.List;
import java.util.function.BiFunction;

import io.quarkus.runtime.annotations.RegisterForReflection;
import io.vertx.core.net.impl.pool.ConnectionPool;
import io.vertx.core.net.impl.pool.PoolConnection;
import io.vertx.core.net.impl.pool.PoolWaiter;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.impl.PoolBase;
import io.vertx.sqlclient.impl.PoolImpl;
import io.vertx.sqlclient.impl.pool.SqlConnectionPool;
import org.jboss.logging.Logger;

/**
 * While PostgreSQL refuses this service more connections, a borrower takes any idle connection
 * before the pool tries to open another one.
 * <p>
 * The Vert.x pool (4.5) looks for an idle connection on the borrower's own event loop only; if there
 * is none and the pool is below its size, it opens a new connection, and only a full pool falls back
 * to idle connections on other event loops. Under a server's connection cap (53300) that order is a
 * trap: with four event loops, three borrowers in four try to open a connection the server refuses
 * (each after a full login) while the connections the service has sit idle on another loop. The
 * selector the pool has no setting for is replaced here (the pool's fields are private: reflection,
 * registered for the native image); while the server does not cap the service, it selects exactly
 * as Vert.x does.
 */
@RegisterForReflection(targets = {PoolBase.class, PoolImpl.class, SqlConnectionPool.class}, fields = true, methods = false)
final class IdleConnectionFirst implements BiFunction<PoolWaiter<Object>, List<PoolConnection<Object>>, PoolConnection<Object>> {

    private static final Logger LOG = Logger.getLogger(IdleConnectionFirst.class);

    private volatile boolean anyEventLoop;

    /** Installs the selector in {@code pool}; false (and a debug line) when this Vert.x is laid out differently. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    boolean installIn(Pool pool) {
        try {
            Object impl = pool instanceof PoolBase<?> ? field(PoolBase.class, "delegate").get(pool) : pool;
            Object sqlPool = field(PoolImpl.class, "pool").get(impl);
            ConnectionPool connections = (ConnectionPool) field(SqlConnectionPool.class, "pool").get(sqlPool);
            connections.connectionSelector((BiFunction) this);
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debugf("Pool connection selector not replaced (%s): under a server connection cap, borrowers on "
                    + "another event loop open new connections", e.toString());
            return false;
        }
    }

    private static Field field(Class<?> type, String name) throws NoSuchFieldException {
        Field field = type.getDeclaredField(name);
        field.setAccessible(true);
        return field;
    }

    /** Whether any idle connection is taken before a new one is opened (true while the server caps connections). */
    void anyEventLoop(boolean any) {
        anyEventLoop = any;
    }

    @Override
    public PoolConnection<Object> apply(PoolWaiter<Object> waiter, List<PoolConnection<Object>> connections) {
        PoolConnection<Object> other = null;
        for (PoolConnection<Object> connection : connections) {
            if (connection.available() > 0) {
                if (connection.context().nettyEventLoop() == waiter.context().nettyEventLoop()) {
                    return connection;
                }
                if (other == null) {
                    other = connection;
                }
            }
        }
        return anyEventLoop ? other : null;
    }
}
