package dev.bastion.transfer;

import java.math.RoundingMode;

import dev.bastion.customer.Customer;
import dev.bastion.customer.CustomerProblems;
import dev.bastion.customer.CustomerRepository;
import dev.bastion.customer.CustomerStatus;
import dev.bastion.database.DatabaseException;
import dev.bastion.database.FailureKind;
import dev.bastion.database.TransactionSpec;
import dev.bastion.database.UnitOfWork;
import dev.bastion.idempotency.IdempotencyKeys;
import dev.bastion.idempotency.StoredResponse;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Singleton;
import jakarta.persistence.LockModeType;

/**
 * Credit transfers: the contended workload. Both rows are locked in ascending id order, so two
 * transfers of this service can never deadlock each other (A→B and B→A lock the same row first);
 * deadlocks caused by other clients are retried by the unit of work. The balance rule (never below
 * zero) is PostgreSQL's check constraint, evaluated atomically with the update.
 */
@Singleton
public class TransferService {

    static final String OPERATION = "customer.transfer";

    private final UnitOfWork unitOfWork;
    private final CustomerRepository customers;
    private final CreditTransferRepository transfers;
    private final IdempotencyKeys idempotencyKeys;

    public TransferService(UnitOfWork unitOfWork, CustomerRepository customers, CreditTransferRepository transfers,
                           IdempotencyKeys idempotencyKeys) {
        this.unitOfWork = unitOfWork;
        this.customers = customers;
        this.transfers = transfers;
        this.idempotencyKeys = idempotencyKeys;
    }

    public Uni<TransferResponse> transfer(TransferRequest request) {
        return mapFailures(unitOfWork.run(spec(request), () -> move(request)), request);
    }

    /** A transfer at most once per key: safe to retry after a timeout or an unknown commit outcome. */
    public Uni<StoredResponse> transferOnce(String idempotencyKey, TransferRequest request) {
        return mapFailures(idempotencyKeys.runOnce(spec(request), idempotencyKey, request, 200,
                TransferResponse::id, () -> move(request)), request);
    }

    /** A transfer locks both customers' rows. */
    private static TransactionSpec spec(TransferRequest request) {
        return TransactionSpec.write(OPERATION).onRows(Customer.rowKey(request.from()), Customer.rowKey(request.to()));
    }

    private Uni<TransferResponse> move(TransferRequest request) {
        long first = Math.min(request.from(), request.to());
        long second = Math.max(request.from(), request.to());
        return customers.findById(first, LockModeType.PESSIMISTIC_WRITE)
                .chain(a -> customers.findById(second, LockModeType.PESSIMISTIC_WRITE).chain(b -> {
                    boolean fromIsFirst = request.from() == first;
                    Customer from = CustomerProblems.existing(fromIsFirst ? a : b, request.from());
                    Customer to = CustomerProblems.existing(fromIsFirst ? b : a, request.to());
                    if (from.status == CustomerStatus.CLOSED) {
                        throw TransferProblems.closed(from.id, "from");
                    }
                    if (to.status == CustomerStatus.CLOSED) {
                        throw TransferProblems.closed(to.id, "to");
                    }
                    from.creditBalance = from.creditBalance.subtract(request.amount());
                    to.creditBalance = to.creditBalance.add(request.amount());
                    CreditTransfer entry = new CreditTransfer();
                    entry.fromId = from.id;
                    entry.toId = to.id;
                    entry.amount = request.amount().setScale(2, RoundingMode.UNNECESSARY);
                    return transfers.persist(entry).map(saved -> new TransferResponse(saved.id, from.id, to.id,
                            saved.amount, from.creditBalance, to.creditBalance, saved.createdAt));
                }));
    }

    private static <T> Uni<T> mapFailures(Uni<T> transfer, TransferRequest request) {
        return transfer.onFailure(e -> DatabaseException.hasKind(e, FailureKind.CHECK_VIOLATION))
                .transform(e -> CustomerProblems.insufficientCredit(request.from(), e));
    }
}
