package dev.bastion.customer;

import dev.bastion.database.Savepoints;
import dev.bastion.database.TransactionSpec;
import dev.bastion.database.UnitOfWork;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.QueryParam;

/**
 * Test-only endpoint (src/test, never packaged): a step nested inside another, which no production
 * path does yet, for {@code NestedStepsTest}. One unit of work: step "outer" saves {@code outer}, then
 * runs step "inner", which saves {@code taken} (refused: rolled back to the inner savepoint), then
 * saves {@code taken} itself (refused: rolled back to the outer savepoint, which must undo its first
 * row too); then step "after" saves {@code after}. Answers whether each step succeeded, as
 * "outer,inner,after".
 */
@Path("/test-only/nested-steps")
public class NestedStepsResource {

    private final UnitOfWork unitOfWork;
    private final Savepoints savepoints;
    private final CustomerService customers;

    public NestedStepsResource(UnitOfWork unitOfWork, Savepoints savepoints, CustomerService customers) {
        this.unitOfWork = unitOfWork;
        this.savepoints = savepoints;
        this.customers = customers;
    }

    @POST
    public Uni<String> run(@QueryParam("outer") String outer, @QueryParam("taken") String taken,
                           @QueryParam("after") String after) {
        return unitOfWork.run(TransactionSpec.write("test.nested-steps").withSavepoints(), () -> {
            StringBuilder inner = new StringBuilder();
            return savepoints.nested("test.outer", () -> customers.insert(row(outer))
                            .chain(() -> savepoints.nested("test.inner", () -> customers.insert(row(taken))))
                            .invoke(step -> inner.append(step.ok()))
                            .chain(() -> customers.insert(row(taken))))
                    .chain(outerStep -> savepoints.nested("test.after", () -> customers.insert(row(after)))
                            .map(afterStep -> outerStep.ok() + "," + inner + "," + afterStep.ok()));
        });
    }

    private static CreateCustomerRequest row(String email) {
        return new CreateCustomerRequest("Nested Step", email, null, null, null);
    }
}
