package dev.bastion.database;

import io.vertx.core.Context;
import io.vertx.core.Vertx;

/**
 * When the request a unit of work serves arrived, for a request that waited at the door (see
 * {@link PoolAdmission#arrive}) before its route ran: its deadline counts from its arrival, not from
 * when its unit of work started, so a wait at the door is not added to the request deadline. Kept in
 * the request's (duplicated) Vert.x context, the one its route and unit of work run on.
 */
final class RequestStart {

    private static final String KEY = "bastion.arrivedAt";

    private RequestStart() {
    }

    /** On the request's context. */
    static void note(long arrivedAtNanos) {
        Context context = Vertx.currentContext();
        if (context != null) {
            context.putLocal(KEY, arrivedAtNanos);
        }
    }

    /** The noted arrival, or {@code now} for a request that did not wait at the door (or no request at all). */
    static long of(long now) {
        Context context = Vertx.currentContext();
        return context != null && context.getLocal(KEY) instanceof Long arrived ? arrived : now;
    }
}
