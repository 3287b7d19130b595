package dev.bastion.api;

import java.util.Optional;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Refuses a body larger than {@code HTTP_MAX_BODY_SIZE} with a problem document. Quarkus's own check
 * (route order -2) answers such requests with an empty 413 before any resource or exception mapper
 * runs, so this one runs just before it, on the API router only (the management port takes no bodies).
 */
@ApplicationScoped
public class OversizedBodies {

    /** Before Quarkus's own body-size route, which has order -2. */
    private static final int ORDER = -3;

    private final Optional<MemorySize> maxBodySize;
    private final ObjectMapper json;

    public OversizedBodies(@ConfigProperty(name = "quarkus.http.limits.max-body-size") Optional<MemorySize> maxBodySize,
                           ObjectMapper json) {
        this.maxBodySize = maxBodySize;
        this.json = json;
    }

    void register(@Observes Router router) {
        maxBodySize.ifPresent(limit -> {
            // a streamed (chunked) body reveals its size only while it arrives: buffer it within the
            // limit (RESTEasy reads the buffered body); going over fails the route with 413
            BodyHandler streamed = BodyHandler.create(false).setBodyLimit(limit.asLongValue());
            router.route().order(ORDER).handler(ctx -> {
                String declared = ctx.request().getHeader(HttpHeaders.CONTENT_LENGTH);
                if (declared != null) {
                    refuseIfTooLarge(ctx, declared, limit.asLongValue());
                } else if (ctx.request().headers().contains(HttpHeaders.TRANSFER_ENCODING)) {
                    streamed.handle(ctx);
                } else {
                    ctx.next();
                }
            });
            router.route().order(ORDER).failureHandler(ctx -> {
                if (ctx.statusCode() == 413) {
                    respond413(ctx);
                } else {
                    ctx.next();
                }
            });
        });
    }

    private void refuseIfTooLarge(RoutingContext ctx, String declared, long limit) {
        long length;
        try {
            length = Long.parseLong(declared.trim());
        } catch (NumberFormatException e) {
            length = -1; // Vert.x itself rejects a malformed Content-Length
        }
        if (length <= limit) {
            ctx.next();
        } else {
            respond413(ctx);
        }
    }

    private void respond413(RoutingContext ctx) {
        Problem problem = FrameworkProblems.problem(413, ctx.normalizedPath());
        try {
            // the body is not read: close the connection so its remainder is not taken for the next request
            ctx.response().setStatusCode(413)
                    .putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE)
                    .putHeader(HttpHeaders.CONNECTION, "close")
                    .end(json.writeValueAsString(problem));
        } catch (JsonProcessingException e) {
            ctx.fail(e);
        }
    }
}
