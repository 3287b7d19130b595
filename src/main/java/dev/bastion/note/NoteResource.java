package dev.bastion.note;

import dev.bastion.api.PageResponse;
import dev.bastion.api.WriteEndpoint;
import io.smallrye.mutiny.Uni;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;

@Path("/customers/{customerId}/notes")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public class NoteResource {

    private final NoteService service;

    public NoteResource(NoteService service) {
        this.service = service;
    }

    @WriteEndpoint
    @POST
    public Uni<Response> add(@PathParam("customerId") long customerId,
                             @NotNull(message = "a JSON body is required") @Valid NoteRequest request, UriInfo uri) {
        return service.add(customerId, request).map(note -> Response.created(uri.getAbsolutePathBuilder()
                .path(Long.toString(note.id())).build()).entity(note).build());
    }

    @GET
    public Uni<PageResponse<NoteResponse>> list(@PathParam("customerId") long customerId,
                                                @QueryParam("page") @DefaultValue("0") @Min(0) @Max(1_000_000) int page,
                                                @QueryParam("size") @DefaultValue("20") @Min(1) @Max(100) int size) {
        return service.list(customerId, page, size);
    }

    @GET
    @Path("/{noteId}")
    public Uni<NoteResponse> get(@PathParam("customerId") long customerId, @PathParam("noteId") long noteId) {
        return service.get(customerId, noteId);
    }

    @WriteEndpoint
    @DELETE
    @Path("/{noteId}")
    public Uni<Response> delete(@PathParam("customerId") long customerId, @PathParam("noteId") long noteId) {
        return service.delete(customerId, noteId).map(v -> Response.noContent().build());
    }
}
