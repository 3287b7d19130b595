package dev.bastion.customer;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import io.quarkus.hibernate.reactive.panache.Panache;
import io.quarkus.hibernate.reactive.panache.PanacheRepository;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowIterator;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Singleton;

/**
 * Customers through Panache for the writes that share a transaction with others (transfers, credit
 * adjustments, imports, deletes, a create under an idempotency key), and the rest (reads by id, pages,
 * lookups, a create without a key, profile update)
 * as prepared statements on a connection the unit of work lent ({@code UnitOfWork.runStatement}): a
 * read or a single-row write gains nothing from a session, a persistence context and a flush, and in
 * autocommit the deadline's cancel request reaches it inside PostgreSQL without a transaction around it.
 */
@Singleton
public class CustomerRepository implements PanacheRepository<Customer> {

    private static final String COLUMNS = "id, name, email, phone, status, credit_balance, version, created_at, updated_at";
    private static final String SELECT_BY_ID = "SELECT " + COLUMNS + " FROM customer WHERE id = $1";
    private static final String SELECT_BY_IDS = "SELECT " + COLUMNS + " FROM customer WHERE id = ANY($1)";
    // version, created_at and updated_at take the table's defaults (0, now(), now())
    private static final String INSERT = "INSERT INTO customer (name, email, phone, status, credit_balance)"
            + " VALUES ($1, $2, $3, $4, $5) RETURNING " + COLUMNS;
    // an unchanged profile keeps its version and updated_at, as the entity's dirty checking did: saving
    // without changes must not make other clients' versions stale
    private static final String PROFILE_CHANGED =
            "(name, email, phone, status) IS DISTINCT FROM ($2::varchar, $3::varchar, $4::varchar, $5::varchar)";
    private static final String UPDATE_PROFILE = "UPDATE customer SET name = $2::varchar, email = $3::varchar,"
            + " phone = $4::varchar, status = $5::varchar,"
            + " version = CASE WHEN " + PROFILE_CHANGED + " THEN version + 1 ELSE version END,"
            + " updated_at = CASE WHEN " + PROFILE_CHANGED + " THEN now() ELSE updated_at END"
            + " WHERE id = $1 AND version = $6 RETURNING " + COLUMNS;
    private static final String VERSION_OF = "SELECT version FROM customer WHERE id = $1";
    private static final String EXISTS = "SELECT EXISTS (SELECT 1 FROM customer WHERE id = $1)";
    // pages in id order: stable across calls, unlike the table's physical order
    private static final String PAGE = "SELECT " + COLUMNS + " FROM customer ORDER BY id LIMIT $1 OFFSET $2";
    private static final String PAGE_AFTER = "SELECT " + COLUMNS + " FROM customer WHERE id > $1 ORDER BY id LIMIT $2";
    private static final String COUNT = "SELECT count(*) FROM customer";
    private static final String BY_EMAIL = "SELECT " + COLUMNS + " FROM customer WHERE lower(email) = lower($1) ORDER BY id";

    /** The customer with {@code id} as its response, or null. */
    public Uni<CustomerResponse> findResponse(SqlConnection connection, long id) {
        return connection.preparedQuery(SELECT_BY_ID).execute(Tuple.of(id)).map(rows -> firstOrNull(rows, CustomerRepository::response));
    }

    /** The customers of {@code ids} that exist, by id. */
    public Uni<Map<Long, CustomerResponse>> findResponses(SqlConnection connection, List<Long> ids) {
        return connection.preparedQuery(SELECT_BY_IDS).execute(Tuple.of(ids.toArray(new Long[0]))).map(rows -> {
            Map<Long, CustomerResponse> found = new HashMap<>(rows.size() * 2);
            for (Row row : rows) {
                CustomerResponse customer = response(row);
                found.put(customer.id(), customer);
            }
            return found;
        });
    }

    /** Inserts {@code customer} and returns it as stored. */
    public Uni<CustomerResponse> insert(SqlConnection connection, NewCustomer customer) {
        Tuple values = Tuple.of(customer.name(), customer.email(), customer.phone(), customer.status().name(),
                customer.creditBalance());
        return connection.preparedQuery(INSERT).execute(values).map(rows -> response(rows.iterator().next()));
    }

    /**
     * Replaces the profile of customer {@code id} if it is still at {@code version}, bumping the version
     * and {@code updated_at} when anything changed, as the entity's own updates did: one statement, whose row lock and version
     * check settle a concurrent update (the second waits, then finds the version moved on). Null when no
     * row matched: no such customer, or another version.
     */
    public Uni<CustomerResponse> updateProfile(SqlConnection connection, long id, long version, String name, String email,
                                               String phone, CustomerStatus status) {
        Tuple values = Tuple.of(id, name, email, phone, status.name(), version);
        return connection.preparedQuery(UPDATE_PROFILE).execute(values).map(rows -> firstOrNull(rows, CustomerRepository::response));
    }

    /** The version customer {@code id} is at now (a new snapshot), or null when there is none. */
    public Uni<Long> currentVersion(SqlConnection connection, long id) {
        return connection.preparedQuery(VERSION_OF).execute(Tuple.of(id)).map(rows -> firstOrNull(rows, row -> row.getLong(0)));
    }

    /** Whether customer {@code id} exists. */
    public Uni<Boolean> exists(SqlConnection connection, long id) {
        return connection.preparedQuery(EXISTS).execute(Tuple.of(id)).map(rows -> rows.iterator().next().getBoolean(0));
    }

    /** An offset page ({@link CustomerPage} caps its depth). */
    public Uni<List<CustomerResponse>> page(SqlConnection connection, int page, int size) {
        return connection.preparedQuery(PAGE).execute(Tuple.of(size, (long) page * size)).map(CustomerRepository::responses);
    }

    /** The next {@code size} customers after the one with id {@code after}: a range scan of the primary key. */
    public Uni<List<CustomerResponse>> after(SqlConnection connection, long after, int size) {
        return connection.preparedQuery(PAGE_AFTER).execute(Tuple.of(after, size)).map(CustomerRepository::responses);
    }

    public Uni<Long> count(SqlConnection connection) {
        return connection.query(COUNT).execute().map(rows -> rows.iterator().next().getLong(0));
    }

    public Uni<List<CustomerResponse>> byEmail(SqlConnection connection, String email) {
        return connection.preparedQuery(BY_EMAIL).execute(Tuple.of(email)).map(CustomerRepository::responses);
    }

    private static List<CustomerResponse> responses(RowSet<Row> rows) {
        List<CustomerResponse> responses = new ArrayList<>(rows.size());
        for (Row row : rows) {
            responses.add(response(row));
        }
        return responses;
    }

    private static <T> T firstOrNull(RowSet<Row> rows, Function<Row, T> read) {
        RowIterator<Row> first = rows.iterator();
        return first.hasNext() ? read.apply(first.next()) : null;
    }

    private static CustomerResponse response(Row row) {
        return new CustomerResponse(row.getLong(0), row.getString(1), row.getString(2), row.getString(3),
                CustomerStatus.valueOf(row.getString(4)), row.getBigDecimal(5), row.getLong(6),
                row.getOffsetDateTime(7).toInstant(), row.getOffsetDateTime(8).toInstant());
    }

    /**
     * Adds {@code amount} to the balance in one statement (row lock, no read-modify-write), bumping
     * {@code version} and {@code updated_at} as the entity's own updates do, so a PUT based on the
     * old version is still refused. Null when there is no such customer. Runs in the caller's transaction,
     * as its first use of this customer (the row is then read after the update, not from the session).
     * <p>
     * The row is read back by id rather than with RETURNING: Hibernate 7.2 never finds a native query
     * that returns rows in its plan cache, so each one parsed the SQL again and evicted another plan
     * (see QueryPlanCacheTest); an update and a read by id cost one more round trip and nothing else.
     */
    public Uni<Customer> addCredit(long id, BigDecimal amount) {
        return Panache.getSession().chain(session -> session.createNativeQuery(ADD_CREDIT)
                .setParameter("amount", amount).setParameter("id", id)
                .executeUpdate()
                .chain(updated -> updated == 0 ? Uni.createFrom().nullItem() : session.find(Customer.class, id)));
    }

    private static final String ADD_CREDIT = """
            UPDATE customer SET credit_balance = credit_balance + :amount, version = version + 1, updated_at = now()
             WHERE id = :id""";
}
