package dev.bastion.metrics;

import io.micrometer.core.instrument.Tags;
import io.quarkus.micrometer.runtime.HttpServerMetricsTagsContributor;
import jakarta.inject.Singleton;

/**
 * Names the route of a 4xx answer in {@code http_server_requests} when Quarkus REST matched one. With
 * {@code suppress4xx-errors} (on, so that probes, typos and attacks on unknown paths do not each become
 * a series), Quarkus keeps a 4xx path only when its template differs from the path itself, so every 4xx
 * of a route without parameters ({@code POST /customers}, {@code GET /customers?page=-1},
 * {@code POST /customers/transfers}) was counted under {@code uri="UNKNOWN"}, all routes together. The
 * template comes from the matched resource method, so the series stay one per route; a path nothing
 * matched keeps Quarkus' own tag ({@code NOT_FOUND}, {@code UNKNOWN}). A later tag of the same key
 * replaces Quarkus' one ({@code Tags.and}).
 */
@Singleton
public class ClientErrorRoutes implements HttpServerMetricsTagsContributor {

    /** Where Quarkus REST's observability handler puts the matched route's template (a request context local). */
    static final String TEMPLATE = "UrlPathTemplate";

    @Override
    public Tags contribute(Context context) {
        int status = context.response().statusCode();
        if (status < 400 || status >= 500) {
            return Tags.empty(); // the happy path pays one comparison
        }
        return context.requestContextLocalData(TEMPLATE) instanceof String template && !template.isEmpty()
                ? Tags.of("uri", template)
                : Tags.empty();
    }
}
