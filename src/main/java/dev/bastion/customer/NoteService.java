package dev.bastion.customer;

import dev.bastion.database.DatabaseException;
import dev.bastion.database.FailureKind;
import dev.bastion.database.TransactionSpec;
import dev.bastion.database.UnitOfWork;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

/** Notes about customers. Whether the customer exists is PostgreSQL's foreign key's decision. */
@ApplicationScoped
public class NoteService {

    private final UnitOfWork unitOfWork;
    private final CustomerRepository customers;
    private final CustomerNoteRepository notes;

    public NoteService(UnitOfWork unitOfWork, CustomerRepository customers, CustomerNoteRepository notes) {
        this.unitOfWork = unitOfWork;
        this.customers = customers;
        this.notes = notes;
    }

    public Uni<NoteResponse> add(long customerId, NoteRequest request) {
        return unitOfWork.run(TransactionSpec.write("note.create"), () -> {
                    CustomerNote note = new CustomerNote(); // a new entity per attempt: a retry must not reuse a persisted one
                    note.customerId = customerId;
                    note.body = request.body();
                    return notes.persist(note);
                })
                .map(NoteResponse::of)
                .onFailure(e -> DatabaseException.hasKind(e, FailureKind.FOREIGN_KEY_VIOLATION))
                .transform(e -> CustomerProblems.customerMissingForNote(customerId, e));
    }

    public Uni<PageResponse<NoteResponse>> list(long customerId, int page, int size) {
        return unitOfWork.run(TransactionSpec.read("note.list"), () -> customers.findById(customerId).chain(c -> {
            if (c == null) {
                throw CustomerProblems.notFound(customerId);
            }
            return notes.page(customerId, page, size).chain(items -> notes.countFor(customerId)
                    .map(total -> PageResponse.of(items.stream().map(NoteResponse::of).toList(), page, size, total)));
        }));
    }

    public Uni<NoteResponse> get(long customerId, long noteId) {
        return unitOfWork.run(TransactionSpec.read("note.get"), () -> notes.findFor(customerId, noteId))
                .map(n -> {
                    if (n == null) {
                        throw CustomerProblems.noteNotFound(customerId, noteId);
                    }
                    return NoteResponse.of(n);
                });
    }

    public Uni<Void> delete(long customerId, long noteId) {
        return unitOfWork.run(TransactionSpec.write("note.delete"), () -> notes.findFor(customerId, noteId)
                .chain(n -> {
                    if (n == null) {
                        throw CustomerProblems.noteNotFound(customerId, noteId);
                    }
                    return notes.delete(n);
                }));
    }
}
