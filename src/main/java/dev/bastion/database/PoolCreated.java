package dev.bastion.database;

import io.vertx.sqlclient.Pool;

/**
 * Fired (synchronously, as a CDI event) once the pool exists. Hibernate Reactive builds the pool on
 * its own start-up thread while the main thread is still initialising the rest of the service; work
 * that only needs the database (the schema migrations) can start here instead of after everything else.
 */
public record PoolCreated(Pool pool) {
}
