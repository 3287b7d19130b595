package dev.bastion.api;

import java.util.function.BiConsumer;

import io.quarkus.vertx.http.runtime.filters.Filters;
import io.quarkus.vertx.http.runtime.security.QuarkusHttpUser;
import io.quarkus.vertx.http.runtime.security.SecurityHandlerPriorities;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/**
 * The customer API's routes authenticate nobody (only /admin does, and lazily:
 * {@code quarkus.http.auth.proactive=false}), so they get an authentication-failure handler of their
 * own. Quarkus REST's filter of priority 199 otherwise finds Quarkus' default one, and then builds a
 * whole request mapper of every resource on each request (~4 % of a read's CPU, bench/profile) to
 * name the route in the metrics of a failure these routes cannot have. The route's name for
 * http_server_requests still comes from Quarkus REST's observability handler once the resource
 * matches (CustomerApiTest).
 * <p>
 * Where it runs matters: after Quarkus' authentication filter, which puts the default handler on
 * every request, and before Quarkus REST's. Both are filters of Quarkus' own; this one has the
 * authentication filter's priority, and a filter registered through {@link Filters} is added to the
 * router after Quarkus' own, so among routes of one order it comes second
 * (UnauthenticatedRoutesTest checks the handler Quarkus REST's filter finds).
 */
@Singleton
public class UnauthenticatedRoutes {

    static final String PREFIX = "/customers";

    static final BiConsumer<RoutingContext, Throwable> FAIL = (ctx, failure) -> {
        if (!ctx.failed()) {
            ctx.fail(failure);
        }
    };

    void register(@Observes Filters filters) {
        filters.register(ctx -> {
            if (ctx.normalizedPath().startsWith(PREFIX)) {
                ctx.put(QuarkusHttpUser.AUTH_FAILURE_HANDLER, FAIL);
            }
            ctx.next();
        }, SecurityHandlerPriorities.AUTHENTICATION);
    }
}
