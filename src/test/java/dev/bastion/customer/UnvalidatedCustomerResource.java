package dev.bastion.customer;

import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/**
 * Test-only endpoint (src/test, never packaged): the production create use case without the
 * Bean Validation pre-checks, so tests can prove that PostgreSQL's own constraints are enforced
 * and mapped to the same API errors.
 */
@Path("/test-only/unvalidated-customers")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public class UnvalidatedCustomerResource {

    private final CustomerService service;

    public UnvalidatedCustomerResource(CustomerService service) {
        this.service = service;
    }

    @POST
    public Uni<CustomerResponse> create(CreateCustomerRequest request) {
        return service.create(request);
    }
}
