package dev.bastion.customer;

import java.math.BigDecimal;
import java.util.List;

import dev.bastion.api.PageResponse;
import dev.bastion.database.DatabaseException;
import dev.bastion.database.FailureKind;
import dev.bastion.database.SharedReads;
import dev.bastion.database.TransactionSpec;
import dev.bastion.database.UnitOfWork;
import dev.bastion.idempotency.IdempotencyKeys;
import dev.bastion.idempotency.StoredResponse;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.inject.Singleton;

/**
 * Customer use cases. Each public method is one unit of work; database failures that mean
 * something in customer terms (a taken email, a missing customer) are translated here, after the
 * transaction has ended.
 */
@Singleton
public class CustomerService {

    static final String CREATE = "customer.create";
    static final String ADJUST_CREDIT = "customer.credit-adjustment";

    private final UnitOfWork unitOfWork;
    private final CustomerRepository customers;
    private final IdempotencyKeys idempotencyKeys;

    private final SharedReads<Long, CustomerResponse> byId;

    public CustomerService(UnitOfWork unitOfWork, CustomerRepository customers, IdempotencyKeys idempotencyKeys) {
        this.unitOfWork = unitOfWork;
        this.customers = customers;
        this.idempotencyKeys = idempotencyKeys;
        this.byId = new SharedReads<>(32, customers::findResponse, customers::findResponses);
    }

    /** One autocommit INSERT ... RETURNING: a single statement needs no transaction block. */
    public Uni<CustomerResponse> create(CreateCustomerRequest request) {
        NewCustomer customer = NewCustomer.of(request);
        return unitOfWork.runStatement(TransactionSpec.write(CREATE), connection -> customers.insert(connection, customer))
                .onFailure(e -> DatabaseException.hasKind(e, FailureKind.UNIQUE_VIOLATION))
                .transform(e -> CustomerProblems.duplicateEmail(request.email(), e));
    }

    /** Create at most once per key: repeats of the same request get the first response back. */
    public Uni<StoredResponse> createOnce(String idempotencyKey, CreateCustomerRequest request) {
        return idempotencyKeys.runOnce(TransactionSpec.write(CREATE), idempotencyKey, request, 201,
                        CustomerResponse::id, () -> insert(request).map(CustomerResponse::of))
                .onFailure(e -> DatabaseException.hasKind(e, FailureKind.UNIQUE_VIOLATION))
                .transform(e -> CustomerProblems.duplicateEmail(request.email(), e));
    }

    /**
     * Reads queued for the pool together share a statement (up to 32 ids each): under a crowd a place in
     * the pool answers 32 reads instead of one.
     *
     * @param readAfter the caller's last written position ({@code WrittenPosition}), or null
     */
    public Uni<CustomerResponse> get(long id, String readAfter) {
        return unitOfWork.readShared(TransactionSpec.read("customer.get").onStandby().readingAfter(readAfter), byId, id)
                .map(c -> CustomerProblems.existing(c, id));
    }

    public Uni<PageResponse<CustomerResponse>> list(CustomerPage request) {
        return unitOfWork.runStatement(TransactionSpec.read("customer.list"), connection -> (request.after() != null
                ? customers.after(connection, request.after(), request.size())
                : customers.page(connection, request.page(), request.size()))
                .chain(page -> {
                    Long nextAfter = page.size() < request.size() ? null : page.get(page.size() - 1).id();
                    Uni<Long> total = request.count() ? customers.count(connection) : Uni.createFrom().nullItem();
                    return total.map(count -> PageResponse.of(page, request.page(), request.size(), count, nextAfter));
                }));
    }

    public Uni<PageResponse<CustomerResponse>> findByEmail(String email) {
        return unitOfWork.runStatement(TransactionSpec.read("customer.find-by-email"), connection -> customers.byEmail(connection, email))
                .map(items -> PageResponse.of(items, 0, Math.max(1, items.size()), items.size()));
    }

    /**
     * Replaces the profile with one statement in autocommit. Sent, the statement is its own commit: if
     * it waits on a locked row past the deadline, the unit of work cancels it (the caller hears
     * {@code request-deadline-exceeded}, nothing saved); if its client hangs up, the update may still
     * land. That is safe here, as the version makes a repeat harmless (it gets a 409 once the first one
     * landed). Credit adjustments are not repeatable that way, so they keep a transaction (see
     * {@link #adjustCredit}).
     */
    public Uni<CustomerResponse> update(long id, UpdateCustomerRequest request) {
        long sent = request.version();
        return unitOfWork.runStatement(TransactionSpec.write("customer.update").onRows(Customer.rowKey(id)), connection -> customers.updateProfile(
                        connection, id, sent, NewCustomer.strip(request.name()), NewCustomer.strip(request.email()),
                        request.phone(), request.status())
                        .chain(updated -> updated != null ? Uni.createFrom().item(updated) : notUpdated(connection, id, sent)))
                .onFailure(e -> DatabaseException.hasKind(e, FailureKind.UNIQUE_VIOLATION))
                .transform(e -> CustomerProblems.duplicateEmail(request.email(), e));
    }

    /**
     * Why no row matched the id and version: no such customer (404), or another version (409, naming
     * it). Read afresh on the same connection, within the same deadline; only the failure path pays it.
     */
    private Uni<CustomerResponse> notUpdated(SqlConnection connection, long id, long sent) {
        return customers.currentVersion(connection, id).chain(current -> Uni.createFrom().failure(current == null
                ? CustomerProblems.notFound(id)
                : CustomerProblems.staleVersion(id, sent, current)));
    }

    public Uni<Void> delete(long id) {
        return unitOfWork.run(TransactionSpec.write("customer.delete").onRows(Customer.rowKey(id)), () -> customers.deleteById(id))
                .map(deleted -> {
                    if (!deleted) {
                        throw CustomerProblems.notFound(id);
                    }
                    return (Void) null;
                })
                .onFailure(e -> DatabaseException.hasKind(e, FailureKind.FOREIGN_KEY_VIOLATION))
                .transform(e -> CustomerProblems.hasDependents(id, CustomerConstraints.dependentsNamedBy(
                        ((DatabaseException) e).failure().constraint()), e));
    }

    /**
     * Adds {@code amount} to the balance in one atomic statement at READ COMMITTED: a concurrent
     * adjustment or transfer of the same customer makes it wait for the row lock, then it adds to
     * the balance that committed, so hot-row contention costs latency, never an error. PostgreSQL's
     * check constraint refuses a negative result (422).
     * <p>
     * In a transaction, although it is one statement: an adjustment waiting on a hot row's lock past
     * the deadline rolls back instead of landing later, so the caller's answer is "nothing saved" and
     * a repeat without an Idempotency-Key cannot add the amount twice.
     */
    public Uni<CustomerResponse> adjustCredit(long id, BigDecimal amount) {
        return insufficientCreditOf(id, unitOfWork.run(TransactionSpec.write(ADJUST_CREDIT).onRows(Customer.rowKey(id)),
                () -> addCredit(id, amount)));
    }

    /** An adjustment at most once per key: safe to repeat after a timeout or an unknown commit outcome. */
    public Uni<StoredResponse> adjustCreditOnce(String idempotencyKey, long id, BigDecimal amount) {
        // the customer id is part of "the same request": one key cannot adjust two customers
        return insufficientCreditOf(id, idempotencyKeys.runOnce(TransactionSpec.write(ADJUST_CREDIT).onRows(Customer.rowKey(id)), idempotencyKey,
                List.of(id, new CreditAdjustmentRequest(amount)), 200, response -> null, () -> addCredit(id, amount)));
    }

    private Uni<CustomerResponse> addCredit(long id, BigDecimal amount) {
        return customers.addCredit(id, amount).map(c -> CustomerResponse.of(CustomerProblems.existing(c, id)));
    }

    private static <T> Uni<T> insufficientCreditOf(long id, Uni<T> adjustment) {
        return adjustment.onFailure(e -> DatabaseException.hasKind(e, FailureKind.CHECK_VIOLATION))
                .transform(e -> CustomerProblems.insufficientCredit(id, e));
    }

    /** Persists a new customer in the caller's transaction (a unit with more than this one statement). */
    Uni<Customer> insert(CreateCustomerRequest request) {
        return customers.persist(NewCustomer.of(request).toEntity());
    }

}
