package dev.bastion.customer;

import dev.bastion.api.ApiProblem;
import dev.bastion.api.PageResponse;
import dev.bastion.api.WriteEndpoint;
import dev.bastion.database.WrittenPosition;
import dev.bastion.idempotency.KeyedResponses;
import dev.bastion.idempotency.ValidIdempotencyKey;
import io.smallrye.mutiny.Uni;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.HostAndPort;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Email;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Size;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.RestHeader;
import org.jboss.resteasy.reactive.RestResponse;

@Path("/customers")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public class CustomerResource {

    private final CustomerService service;
    private final ImportService importService;
    private final NewCustomerCheck newCustomerCheck;

    public CustomerResource(CustomerService service, ImportService importService, NewCustomerCheck newCustomerCheck) {
        this.service = service;
        this.importService = importService;
        this.newCustomerCheck = newCustomerCheck;
    }

    /** Creates a customer; with an Idempotency-Key header, repeats of the same request create nothing more. */
    @WriteEndpoint
    @POST
    public Uni<RestResponse<Object>> create(CreateCustomerRequest body, @RestHeader(KeyedResponses.IDEMPOTENCY_KEY) String idempotencyKey,
                                @Context HttpServerRequest http) {
        // a body is required, the key and the body have constraints: checked there, not by an interceptor on every create
        CreateCustomerRequest request = newCustomerCheck.checked(body, idempotencyKey);
        return KeyedResponses.respond(idempotencyKey,
                () -> service.create(request).map(c -> RestResponse.ResponseBuilder.<Object>create(RestResponse.Status.CREATED, c)
                        .header(HttpHeaders.LOCATION, location(http, c.id())).build()),
                key -> service.createOnce(key, request), id -> location(http, id));
    }

    @GET
    @Path("/{id}")
    public Uni<CustomerResponse> get(@PathParam("id") long id, @RestHeader(WrittenPosition.REQUEST_HEADER) String readAfter) {
        // checked here rather than by Bean Validation: a constraint on a parameter would validate every read
        if (readAfter != null && !WrittenPosition.isPosition(readAfter)) {
            throw ApiProblem.status(400, "validation", "Invalid request parameter")
                    .detail(WrittenPosition.REQUEST_HEADER + " must be a position from " + WrittenPosition.RESPONSE_HEADER
                            + " (a pg_lsn such as 0/16B3748).")
                    .field(WrittenPosition.REQUEST_HEADER)
                    .build();
        }
        return service.get(id, readAfter);
    }

    /**
     * Lists customers in id order (by offset page up to {@link CustomerPage#MAX_OFFSET} rows, or by key
     * with {@code after}; the total only with {@code count=true}), or finds the one with an email.
     */
    @GET
    public Uni<PageResponse<CustomerResponse>> list(@QueryParam("page") @DefaultValue("0") @Min(0) @Max(CustomerPage.MAX_OFFSET) int page,
                                                    @QueryParam("size") @DefaultValue("20") @Min(1) @Max(100) int size,
                                                    @QueryParam("after") @Min(0) Long after,
                                                    @QueryParam("count") @DefaultValue("false") boolean count,
                                                    @QueryParam("email") @Size(max = 320) @Email String email) {
        return email == null ? service.list(CustomerPage.of(page, size, after, count)) : service.findByEmail(email);
    }

    @WriteEndpoint
    @PUT
    @Path("/{id}")
    public Uni<CustomerResponse> update(@PathParam("id") long id,
                                        @NotNull(message = "a JSON body is required") @Valid UpdateCustomerRequest request) {
        return service.update(id, request);
    }

    @WriteEndpoint
    @DELETE
    @Path("/{id}")
    public Uni<Response> delete(@PathParam("id") long id) {
        return service.delete(id).map(v -> Response.noContent().build());
    }

    /**
     * Adds (or, negative, removes) credit; the database refuses a negative balance. With an
     * Idempotency-Key, a repeated request is applied once.
     */
    @WriteEndpoint
    @POST
    @Path("/{id}/credit-adjustments")
    public Uni<RestResponse<Object>> adjustCredit(@PathParam("id") long id,
                                      @NotNull(message = "a JSON body is required") @Valid CreditAdjustmentRequest request,
                                      @RestHeader(KeyedResponses.IDEMPOTENCY_KEY) @ValidIdempotencyKey String idempotencyKey) {
        return KeyedResponses.respond(idempotencyKey,
                () -> service.adjustCredit(id, request.amount()).map(c -> KeyedResponses.answer(RestResponse.Status.OK, c)),
                key -> service.adjustCreditOnce(key, id, request.amount()), null);
    }

    /**
     * Creates many customers in one transaction; rows the database refuses are reported and skipped
     * (each row runs in its own savepoint), the rest commit together. With an Idempotency-Key, a
     * repeat gets the first report.
     */
    @WriteEndpoint
    @POST
    @Path("/import")
    public Uni<RestResponse<Object>> importAll(@NotNull(message = "a JSON body is required") @Valid ImportRequest request,
                                   @RestHeader(KeyedResponses.IDEMPOTENCY_KEY) @ValidIdempotencyKey String idempotencyKey) {
        return KeyedResponses.respond(idempotencyKey,
                () -> importService.importAll(request.customers()).map(r -> KeyedResponses.answer(RestResponse.Status.OK, r)),
                key -> importService.importAllOnce(key, request.customers()), null);
    }

    /**
     * The customer's absolute URL, for the Location of a create and of its replays: the request's
     * scheme, authority and path (with any root path) and the id, the URL Quarkus REST made of a
     * relative {@code URI}, written as text without its three URI parses (~4 % of a create's CPU,
     * bench/profile). Without an authority (HTTP/1.0 without Host): the path alone, a valid relative
     * Location.
     */
    private static String location(HttpServerRequest http, Long id) {
        String path = http.path();
        StringBuilder url = new StringBuilder(64);
        HostAndPort authority = http.authority();
        if (authority != null) {
            url.append(http.scheme()).append("://").append(authority.host());
            if (authority.port() >= 0) {
                url.append(':').append(authority.port());
            }
        }
        return url.append(path, 0, path.endsWith("/") ? path.length() - 1 : path.length()).append('/').append(id).toString();
    }
}
