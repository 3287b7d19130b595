package dev.bastion.api;

import dev.bastion.database.UnitOfWork;
import dev.bastion.database.WrittenPosition;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.HttpMethod;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

/**
 * With reads on standbys (DB_READ_TARGET=prefer-standby), puts the writer's WAL position on every
 * successful write's answer ({@link WrittenPosition#RESPONSE_HEADER}), so the caller's next read can
 * ask not to miss it. Costs one round trip per write, and only in that mode.
 */
public class WrittenPositionHeader {

    private final UnitOfWork unitOfWork;

    public WrittenPositionHeader(UnitOfWork unitOfWork) {
        this.unitOfWork = unitOfWork;
    }

    @ServerResponseFilter
    public Uni<Void> afterWrite(ContainerRequestContext request, ContainerResponseContext response) {
        String method = request.getMethod();
        if (response.getStatus() >= 300 || HttpMethod.GET.equals(method) || HttpMethod.HEAD.equals(method)
                || HttpMethod.OPTIONS.equals(method) || request.getUriInfo().getPath().startsWith("/admin")) {
            return Uni.createFrom().voidItem();
        }
        return unitOfWork.writtenPosition().invoke(position -> {
            if (position != null) {
                response.getHeaders().putSingle(WrittenPosition.RESPONSE_HEADER, position);
            }
        }).replaceWithVoid();
    }
}
