package dev.bastion.transfer;

import io.smallrye.mutiny.Uni;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import dev.bastion.api.WriteEndpoint;
import dev.bastion.idempotency.KeyedResponses;
import dev.bastion.idempotency.ValidIdempotencyKey;
import org.jboss.resteasy.reactive.RestHeader;
import org.jboss.resteasy.reactive.RestResponse;

@Path("/customers/transfers")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public class TransferResource {

    private final TransferService service;

    public TransferResource(TransferService service) {
        this.service = service;
    }

    /** Moves credit atomically; with an Idempotency-Key, a retried request is applied once. */
    @WriteEndpoint
    @POST
    public Uni<RestResponse<Object>> transfer(@NotNull(message = "a JSON body is required") @Valid TransferRequest request,
                                  @RestHeader(KeyedResponses.IDEMPOTENCY_KEY) @ValidIdempotencyKey String idempotencyKey) {
        return KeyedResponses.respond(idempotencyKey, () -> service.transfer(request).map(t -> KeyedResponses.answer(RestResponse.Status.OK, t)),
                key -> service.transferOnce(key, request), null);
    }
}
