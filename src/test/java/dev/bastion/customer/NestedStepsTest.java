package dev.bastion.customer;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.rowsWithEmail;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

/**
 * Savepoints are named by their depth, so steps one after another reuse a name (PostgreSQL's newest
 * savepoint of a name is the one RELEASE and ROLLBACK TO mean). A step nested in another still rolls
 * back to its own savepoint, and the outer step to the outer one, undoing what it saved before the
 * inner step: with one name for every step the outer rollback would stop at the inner savepoint and
 * keep the outer's first row. Real PostgreSQL, a real unique violation, rows checked.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class NestedStepsTest {

    @Test
    void anOuterStepRefusedAfterAnInnerOneUndoesAllItSavedAndTheNextStepIsKept() throws Exception {
        String taken = uniqueEmail();
        createCustomer(taken);
        String outer = uniqueEmail();
        String after = uniqueEmail();

        given().queryParam("outer", outer).queryParam("taken", taken).queryParam("after", after)
                .post("/test-only/nested-steps").then().statusCode(200).body(equalTo("false,false,true"));

        assertEquals(0, rowsWithEmail(outer), "the outer step's own row went with its rollback");
        assertEquals(1, rowsWithEmail(taken));
        assertEquals(1, rowsWithEmail(after), "the step after the refused one is committed");
    }
}
