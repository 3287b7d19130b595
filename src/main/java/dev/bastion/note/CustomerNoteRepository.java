package dev.bastion.note;

import java.util.ArrayList;
import java.util.List;

import io.quarkus.hibernate.reactive.panache.PanacheRepository;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowIterator;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * Notes through Panache for the writes (a note's creation counts its customer's notes in the same
 * serializable transaction), and the reads as prepared statements on a connection the unit of work
 * lent ({@code UnitOfWork.runStatement}), like the customer reads.
 */
@ApplicationScoped
public class CustomerNoteRepository implements PanacheRepository<CustomerNote> {

    private static final String COLUMNS = "id, customer_id, body, created_at";
    private static final String PAGE = "SELECT " + COLUMNS + " FROM customer_note WHERE customer_id = $1 ORDER BY id LIMIT $2 OFFSET $3";
    private static final String COUNT = "SELECT count(*) FROM customer_note WHERE customer_id = $1";
    private static final String ONE = "SELECT " + COLUMNS + " FROM customer_note WHERE id = $1 AND customer_id = $2";

    public Uni<List<NoteResponse>> page(SqlConnection connection, long customerId, int page, int size) {
        return connection.preparedQuery(PAGE).execute(Tuple.of(customerId, size, (long) page * size)).map(rows -> {
            List<NoteResponse> notes = new ArrayList<>(rows.size());
            for (Row row : rows) {
                notes.add(response(row));
            }
            return notes;
        });
    }

    public Uni<Long> count(SqlConnection connection, long customerId) {
        return connection.preparedQuery(COUNT).execute(Tuple.of(customerId)).map(rows -> rows.iterator().next().getLong(0));
    }

    /** The note, or null when the customer has no note with that id. */
    public Uni<NoteResponse> find(SqlConnection connection, long customerId, long noteId) {
        return connection.preparedQuery(ONE).execute(Tuple.of(noteId, customerId)).map(rows -> {
            RowIterator<Row> first = rows.iterator();
            return first.hasNext() ? response(first.next()) : null;
        });
    }

    /** Counted in the caller's transaction (a note's creation). */
    public Uni<Long> countFor(long customerId) {
        return count("customerId", customerId);
    }

    /** The entity, in the caller's transaction (a note's deletion). */
    public Uni<CustomerNote> findFor(long customerId, long noteId) {
        return find("id = ?1 and customerId = ?2", noteId, customerId).firstResult();
    }

    private static NoteResponse response(Row row) {
        return new NoteResponse(row.getLong(0), row.getLong(1), row.getString(2), row.getOffsetDateTime(3).toInstant());
    }
}
