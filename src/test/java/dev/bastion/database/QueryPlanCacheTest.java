package dev.bastion.database;

import static dev.bastion.testing.Customers.balance;
import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.rowsWithEmail;
import static dev.bastion.testing.Customers.uniqueEmail;
import static dev.bastion.testing.Transfers.ledgerEntries;
import static dev.bastion.testing.Transfers.transferBody;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.math.BigDecimal;
import java.util.UUID;

import dev.bastion.testing.PostgresResource;
import io.quarkus.arc.ClientProxy;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.hibernate.reactive.mutiny.Mutiny;
import org.junit.jupiter.api.Test;

/**
 * The write paths run the same few statements for every request, so Hibernate's query-plan cache
 * holds a fixed set of plans, whatever the traffic. Hibernate 7.2 (through Hibernate Reactive) never
 * finds the plan of a native query that returns rows: every execution parsed the SQL again and stored
 * one more plan under the same hash, evicting others. A keyed write's advisory lock, every write's
 * deadline statement, a replay's read of its stored answer and a credit adjustment's UPDATE ...
 * RETURNING each did that, and an import named a savepoint per row; on a keyed create a quarter of the service's CPU went to the cache
 * (bench/profile). The requests here really run against PostgreSQL and their data is checked, so the
 * test also shows the rewritten statements do their work.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class QueryPlanCacheTest {

    private static final int ROUNDS = 30;

    @Inject
    Mutiny.SessionFactory sessionFactory;

    @Test
    void keyedWritesTransfersAndImportsAddNoPlanPerRequest() throws Exception {
        long from = createCustomer(uniqueEmail(), "1000");
        long to = createCustomer(uniqueEmail());
        writeOnceOfEachKind(from, to, 0); // the plans every kind of write needs, made once
        int before = cachedPlans();

        for (int round = 1; round <= ROUNDS; round++) {
            writeOnceOfEachKind(from, to, round);
        }

        int added = cachedPlans() - before;
        assertTrue(added <= 2, ROUNDS + " rounds of writes added " + added + " query plans (a plan per request is back)");
        // the statements did their work: every adjustment and transfer once, every imported row, every failed row undone
        assertEquals(0, new BigDecimal("1000").compareTo(balance(from)),
                "each round adds 1 and transfers 1 away, each once: " + balance(from));
        assertEquals(ROUNDS + 1, ledgerEntries(from, to));
        assertEquals(ROUNDS + 1, balance(to).intValueExact());
    }

    /** A keyed create and its replay, a keyed credit adjustment, a transfer, reads, a note, an import with a rejected row. */
    private void writeOnceOfEachKind(long from, long to, int round) throws Exception {
        String key = UUID.randomUUID().toString();
        String email = uniqueEmail();
        String create = "{\"name\":\"Plan " + round + "\",\"email\":\"" + email + "\"}";
        given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(create)
                .post("/customers").then().statusCode(201);
        given().contentType(ContentType.JSON).header("Idempotency-Key", key).body(create)
                .post("/customers").then().statusCode(201).header("Idempotency-Replayed", "true");
        assertEquals(1, rowsWithEmail(email));

        given().contentType(ContentType.JSON).header("Idempotency-Key", UUID.randomUUID().toString())
                .body("{\"amount\":1}")
                .post("/customers/" + from + "/credit-adjustments").then().statusCode(200);
        given().contentType(ContentType.JSON).body(transferBody(from, to, "1"))
                .post("/customers/transfers").then().statusCode(200);

        // the reads and writes Hibernate runs from HQL and the entity (a page, a lookup, a profile update, a note)
        given().get("/customers?after=" + from + "&size=5").then().statusCode(200);
        given().get("/customers?email=" + email).then().statusCode(200).body("items.size()", equalTo(1));
        given().contentType(ContentType.JSON).body("{\"body\":\"round " + round + "\"}")
                .post("/customers/" + to + "/notes").then().statusCode(201);
        given().get("/customers/" + to + "/notes").then().statusCode(200);

        String imported = uniqueEmail();
        given().contentType(ContentType.JSON)
                .body("{\"customers\":[{\"name\":\"A\",\"email\":\"" + imported + "\"},"
                        + "{\"name\":\"B\",\"email\":\"" + email + "\"},"
                        + "{\"name\":\"C\",\"email\":\"" + uniqueEmail() + "\"}]}")
                .post("/customers/import").then().statusCode(200)
                .body("created.size()", equalTo(2)).body("rejected.size()", equalTo(1));
        assertEquals(1, rowsWithEmail(imported));
        assertEquals(1, rowsWithEmail(email), "the duplicate row of the import was rolled back to its savepoint");
    }

    private int cachedPlans() throws ReflectiveOperationException {
        Object factory = ClientProxy.unwrap(sessionFactory);
        Field delegate = factory.getClass().getDeclaredField("delegate");
        delegate.setAccessible(true);
        SessionFactoryImplementor orm = (SessionFactoryImplementor) delegate.get(factory);
        return orm.getQueryEngine().getInterpretationCache().getNumberOfCachedQueryPlans();
    }
}
