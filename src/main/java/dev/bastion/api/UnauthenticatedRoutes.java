package dev.bastion.api;

import java.util.function.BiConsumer;

import io.quarkus.vertx.http.runtime.security.QuarkusHttpUser;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/**
 * The customer API's routes authenticate nobody (only /admin does, and lazily:
 * {@code quarkus.http.auth.proactive=false}), so they get their authentication-failure handler here,
 * before Quarkus REST's own filter. That filter, finding none, builds a whole request mapper of every
 * resource on each request (~3 % of a read's CPU, bench/profile) to name the route in the metrics of a
 * failure these routes cannot have. The route's name for http_server_requests still comes from
 * Quarkus REST's observability handler once the resource matches (CustomerApiTest).
 */
@Singleton
public class UnauthenticatedRoutes {

    /** Before Quarkus REST's filter of priority 199 (route order -199). */
    private static final int ORDER = -200;

    private static final BiConsumer<RoutingContext, Throwable> FAIL = (ctx, failure) -> {
        if (!ctx.failed()) {
            ctx.fail(failure);
        }
    };

    void register(@Observes Router router) {
        router.route("/customers*").order(ORDER).handler(ctx -> {
            ctx.put(QuarkusHttpUser.AUTH_FAILURE_HANDLER, FAIL);
            ctx.next();
        });
    }
}
