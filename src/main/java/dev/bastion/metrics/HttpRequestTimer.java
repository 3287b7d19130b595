package dev.bastion.metrics;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.http.Outcome;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.impl.HttpServerRequestInternal;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/**
 * Times every HTTP request into {@code http_server_requests} (tags {@code method}, {@code uri},
 * {@code status}, {@code outcome}: the names and tags of Quarkus' HTTP binder, which dashboards, alerts
 * and tests read), in place of that binder ({@code quarkus.micrometer.binder.http-server.enabled=false}).
 * Quarkus' binder builds and sorts the four tags, asks every tags contributor, and looks the timer up in
 * the registry on every response: 4 % of a read's CPU at 20 callers and 7 % at 5,000 (bench/profile).
 * Here a series is found by its route, method and status in a map of its own, and built once.
 *
 * <p>{@code uri} is the matched resource method's template (Quarkus REST's observability handler puts it
 * in the request's context), also for a 4xx: a 422 of {@code POST /customers} counts under
 * {@code /customers}, beside its 201s. A request no resource matched is counted under its Vert.x
 * route's path when it succeeded, else under {@code NOT_FOUND},
 * {@code REDIRECTION} or {@code UNKNOWN}: probes, typos and attacks on unknown paths do not each become a
 * series, nor does a refusal at the door (503, before any route matched). A caller that hung up while
 * at the door counts as {@code status="RESET"}; one that hung up during its unit of work is not counted
 * (Quarkus REST takes the response's close handler over to cancel the unit). The management port
 * (probes, {@code /q/metrics}) is not timed, as Quarkus' binder did not time Quarkus' own endpoints.
 */
@Singleton
public class HttpRequestTimer {

    static final String NAME = "http.server.requests";
    /** Where Quarkus REST's observability handler puts the matched route's template (a request context local). */
    static final String TEMPLATE = "UrlPathTemplate";
    /** First of every filter of the main router: the time at the door and in the other filters counts. */
    private static final int FIRST = 1_000_000;
    private static final String RESET = "RESET";
    /** Vert.x takes any method name; one a client made up counts as this one, not as a series of its own. */
    private static final HttpMethod OTHER_METHOD = HttpMethod.valueOf("UNKNOWN");
    private static final Set<HttpMethod> STANDARD_METHODS = Set.copyOf(HttpMethod.values());

    private record Series(String uri, HttpMethod method, int status) {
    }

    private final MeterRegistry registry;
    private final ConcurrentHashMap<Series, Timer> timers = new ConcurrentHashMap<>();

    public HttpRequestTimer(MeterRegistry registry) {
        this.registry = registry;
    }

    void onTheApiPort(@Observes Filters filters) {
        filters.register(this::time, FIRST);
    }

    private void time(RoutingContext ctx) {
        long start = System.nanoTime();
        // the response's end, or its connection's close: a refusal sent before its body was read is often
        // reported closed first, answered all the same
        ctx.addEndHandler(ended -> timer(ctx, ctx.response().ended()).record(System.nanoTime() - start, TimeUnit.NANOSECONDS));
        ctx.next();
    }

    private Timer timer(RoutingContext ctx, boolean answered) {
        int status = answered ? ctx.response().getStatusCode() : 0;
        HttpMethod method = ctx.request().method();
        Series series = new Series(uri(ctx, status), STANDARD_METHODS.contains(method) ? method : OTHER_METHOD, status);
        Timer timer = timers.get(series);
        return timer != null ? timer : timers.computeIfAbsent(series, this::register);
    }

    private Timer register(Series series) {
        return Timer.builder(NAME)
                .description("HTTP server request processing time")
                .tag("method", series.method().name())
                .tag("uri", series.uri())
                .tag("status", series.status() == 0 ? RESET : Integer.toString(series.status()))
                .tag("outcome", series.status() == 0 ? Outcome.CLIENT_ERROR.name() : Outcome.forStatus(series.status()).name())
                .register(registry);
    }

    private static String uri(RoutingContext ctx, int status) {
        if (((HttpServerRequestInternal) ctx.request()).context().getLocal(TEMPLATE) instanceof String template
                && !template.isEmpty()) {
            return template;
        }
        if (status == 404) {
            return "NOT_FOUND";
        }
        if (status / 100 == 3) {
            return "REDIRECTION";
        }
        Route route = ctx.currentRoute();
        String path = route == null ? null : route.getPath();
        return status / 100 == 2 && path != null ? (path.isEmpty() || path.equals("/") ? "root" : path) : "UNKNOWN";
    }
}
