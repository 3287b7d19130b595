package dev.bastion.reference;

import java.math.BigDecimal;
import java.net.URI;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowIterator;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgException;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/**
 * GET /customers/{id} and POST /customers as a careful hand-written service would do them: one prepared
 * statement each on the pooled reactive client, no ORM, no transaction block, no extra layers. Its CPU per
 * request is what this stack costs on this machine, the figure Bastion's guardrails are measured against.
 */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public class CustomerResource {

    private static final String SELECT = "SELECT " + CustomerJson.COLUMNS + " FROM customer WHERE id = $1";
    private static final String INSERT = "INSERT INTO customer (name, email, phone, status, credit_balance) "
            + "VALUES ($1, $2, $3, $4, $5) RETURNING " + CustomerJson.COLUMNS;
    private static final BigDecimal ZERO = BigDecimal.ZERO.setScale(2);

    private final Pool pool;

    public CustomerResource(Pool pool) {
        this.pool = pool;
    }

    @GET
    @Path("customers/{id}")
    public Uni<Response> get(@PathParam("id") long id) {
        return pool.preparedQuery(SELECT).execute(Tuple.of(id)).map(rows -> {
            RowIterator<Row> it = rows.iterator();
            return it.hasNext() ? Response.ok(CustomerJson.of(it.next())).build()
                    : Response.status(Response.Status.NOT_FOUND).build();
        });
    }

    @POST
    @Path("customers")
    public Uni<Response> create(NewCustomer body) {
        if (body == null || blank(body.name()) || blank(body.email())) {
            return Uni.createFrom().item(Response.status(Response.Status.BAD_REQUEST).build());
        }
        Tuple values = Tuple.of(body.name().strip(), body.email().strip(), body.phone(),
                body.status() == null ? "ACTIVE" : body.status(),
                body.creditBalance() == null ? ZERO : body.creditBalance());
        return pool.preparedQuery(INSERT).execute(values)
                .map(rows -> {
                    CustomerJson created = CustomerJson.of(rows.iterator().next());
                    return Response.created(URI.create("/customers/" + created.id())).entity(created).build();
                })
                .onFailure(PgException.class).recoverWithItem(e -> "23505".equals(((PgException) e).getSqlState())
                        ? Response.status(Response.Status.CONFLICT).build()
                        : Response.serverError().build());
    }

    /** Ready once the database answers: the bench's start-up-to-first-200 for this app. */
    @GET
    @Path("ready")
    public Uni<Response> ready() {
        return pool.query("SELECT 1").execute().map(rows -> Response.ok().build());
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }
}
