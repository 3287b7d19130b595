package dev.bastion.api;

import dev.bastion.database.UnitOfWork;
import dev.bastion.database.WrittenPosition;
import jakarta.ws.rs.container.ContainerResponseContext;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;
import org.jboss.resteasy.reactive.server.spi.ResteasyReactiveContainerRequestContext;

/**
 * With reads on standbys (DB_READ_TARGET=prefer-standby), puts the writer's WAL position on every
 * successful write's answer ({@link WrittenPosition#RESPONSE_HEADER}), so the caller's next read can
 * ask not to miss it. Costs one round trip per write, and only in that mode: otherwise the filter
 * returns at once and the request is never suspended. Bound to the methods marked {@link WriteEndpoint}:
 * reads never pass here.
 */
public class WrittenPositionHeader {

    private final UnitOfWork unitOfWork;

    public WrittenPositionHeader(UnitOfWork unitOfWork) {
        this.unitOfWork = unitOfWork;
    }

    @ServerResponseFilter
    @WriteEndpoint
    public void afterWrite(ResteasyReactiveContainerRequestContext request, ContainerResponseContext response) {
        if (!unitOfWork.readsOnStandbys() || response.getStatus() >= 300) {
            return;
        }
        request.suspend();
        unitOfWork.writtenPosition().subscribe().with(position -> {
            if (position != null) {
                response.getHeaders().putSingle(WrittenPosition.RESPONSE_HEADER, position);
            }
            request.resume();
        }, failure -> request.resume());
    }
}
