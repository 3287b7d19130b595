package dev.bastion.customer;

import java.util.ArrayList;
import java.util.List;

import dev.bastion.api.ConstraintDescriptions.ConstraintDescription;
import dev.bastion.database.DatabaseFailure;
import dev.bastion.database.Savepoints;
import dev.bastion.database.TransactionSpec;
import dev.bastion.database.UnitOfWork;
import dev.bastion.idempotency.IdempotencyKeys;
import dev.bastion.idempotency.StoredResponse;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Singleton;

/**
 * Bulk creation in one transaction where each row is a nested unit of work: a row the database
 * refuses (a taken email, a broken check) is rolled back to its savepoint and reported, the others
 * commit together. Partial success is explicit in the response, never silent.
 */
@Singleton
public class ImportService {

    private static final TransactionSpec IMPORT = TransactionSpec.write("customer.import").withSavepoints();

    private final UnitOfWork unitOfWork;
    private final Savepoints savepoints;
    private final CustomerService customers;
    private final CustomerConstraints constraints;
    private final IdempotencyKeys idempotencyKeys;

    public ImportService(UnitOfWork unitOfWork, Savepoints savepoints, CustomerService customers,
                         CustomerConstraints constraints, IdempotencyKeys idempotencyKeys) {
        this.unitOfWork = unitOfWork;
        this.savepoints = savepoints;
        this.customers = customers;
        this.constraints = constraints;
        this.idempotencyKeys = idempotencyKeys;
    }

    public Uni<ImportResponse> importAll(List<CreateCustomerRequest> rows) {
        return unitOfWork.run(IMPORT, () -> importRows(rows));
    }

    /** An import at most once per key: a repeat gets the first report back instead of all rows "taken". */
    public Uni<StoredResponse> importAllOnce(String idempotencyKey, List<CreateCustomerRequest> rows) {
        return idempotencyKeys.runOnce(IMPORT, idempotencyKey, rows, 200, response -> null, () -> importRows(rows));
    }

    private Uni<ImportResponse> importRows(List<CreateCustomerRequest> rows) {
        List<CustomerResponse> created = new ArrayList<>();
        List<ImportResponse.Rejected> rejected = new ArrayList<>();
        Uni<Void> chain = Uni.createFrom().voidItem();
        for (int i = 0; i < rows.size(); i++) {
            int index = i;
            CreateCustomerRequest row = rows.get(i);
            chain = chain.chain(() -> savepoints.nested("customer.import",
                            () -> customers.insert(row).map(CustomerResponse::of))
                    .invoke(step -> {
                        if (step.ok()) {
                            created.add(step.value());
                        } else {
                            rejected.add(rejection(index, row, step.failure()));
                        }
                    })
                    .replaceWithVoid());
        }
        return chain.map(done -> new ImportResponse(created, rejected));
    }

    private ImportResponse.Rejected rejection(int index, CreateCustomerRequest row, DatabaseFailure failure) {
        ConstraintDescription described = failure.constraint() == null ? null
                : constraints.describe(failure.constraint()).orElse(null);
        return new ImportResponse.Rejected(index, row.email(), failure.kind().problemSlug(),
                described == null ? null : described.field(),
                described == null ? failure.kind().title() : described.detail());
    }
}
