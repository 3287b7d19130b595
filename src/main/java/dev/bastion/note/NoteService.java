package dev.bastion.note;

import dev.bastion.api.PageResponse;
import dev.bastion.customer.Customer;
import dev.bastion.customer.CustomerProblems;
import dev.bastion.customer.CustomerRepository;
import dev.bastion.database.DatabaseException;
import dev.bastion.database.FailureKind;
import dev.bastion.database.Isolation;
import dev.bastion.database.TransactionSpec;
import dev.bastion.database.UnitOfWork;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Singleton;

/** Notes about customers. Whether the customer exists is PostgreSQL's foreign key's decision. */
@Singleton
public class NoteService {

    /** Notes one customer may have: bounds what one client can pile onto one customer. */
    public static final int MAX_NOTES_PER_CUSTOMER = 1000;

    private final UnitOfWork unitOfWork;
    private final CustomerRepository customers;
    private final CustomerNoteRepository notes;

    public NoteService(UnitOfWork unitOfWork, CustomerRepository customers, CustomerNoteRepository notes) {
        this.unitOfWork = unitOfWork;
        this.customers = customers;
        this.notes = notes;
    }

    /**
     * Adds a note unless the customer already has {@link #MAX_NOTES_PER_CUSTOMER}. "Fewer than N rows
     * match" is a predicate no row lock protects: two requests could both count N-1 and both insert.
     * SERIALIZABLE makes PostgreSQL detect that write skew (40001) and the unit of work runs the loser
     * again, which then counts N and refuses. The only alternative lock is the customer row, which
     * would make every note queue behind the credit adjustments and transfers of a busy customer.
     */
    public Uni<NoteResponse> add(long customerId, NoteRequest request) {
        // the note's foreign key check takes a share lock on the customer's row: a held row holds it up too, so
        // notes get their own per-row bound (a lane of their own, not queued behind the customer's adjustments)
        TransactionSpec spec = TransactionSpec.write("note.create").withIsolation(Isolation.SERIALIZABLE)
                .onRows(Customer.rowKey(customerId) + ":notes");
        return unitOfWork.run(spec, () -> notes.countFor(customerId).chain(count -> {
                    if (count >= MAX_NOTES_PER_CUSTOMER) {
                        throw NoteProblems.tooManyNotes(customerId, MAX_NOTES_PER_CUSTOMER);
                    }
                    CustomerNote note = new CustomerNote(); // a new entity per attempt: a retry must not reuse a persisted one
                    note.customerId = customerId;
                    note.body = request.body();
                    return notes.persist(note);
                }))
                .map(NoteResponse::of)
                .onFailure(e -> DatabaseException.hasKind(e, FailureKind.FOREIGN_KEY_VIOLATION))
                .transform(e -> NoteProblems.customerMissingForNote(customerId, e));
    }

    public Uni<PageResponse<NoteResponse>> list(long customerId, int page, int size) {
        return unitOfWork.runStatement(TransactionSpec.read("note.list"), connection -> customers.exists(connection, customerId)
                .chain(exists -> {
                    if (!exists) {
                        throw CustomerProblems.notFound(customerId);
                    }
                    return notes.page(connection, customerId, page, size).chain(items -> notes.count(connection, customerId)
                            .map(total -> PageResponse.of(items, page, size, total)));
                }));
    }

    public Uni<NoteResponse> get(long customerId, long noteId) {
        return unitOfWork.runStatement(TransactionSpec.read("note.get"), connection -> notes.find(connection, customerId, noteId))
                .map(n -> {
                    if (n == null) {
                        throw NoteProblems.noteNotFound(customerId, noteId);
                    }
                    return n;
                });
    }

    public Uni<Void> delete(long customerId, long noteId) {
        return unitOfWork.run(TransactionSpec.write("note.delete").onRows(CustomerNote.rowKey(noteId)), () -> notes.findFor(customerId, noteId)
                .chain(n -> {
                    if (n == null) {
                        throw NoteProblems.noteNotFound(customerId, noteId);
                    }
                    return notes.delete(n);
                }));
    }
}
