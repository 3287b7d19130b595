package dev.bastion.testing;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;

import io.restassured.response.ValidatableResponse;

/** Assertions on the service's problem+json answers. */
public final class Problems {

    private Problems() {
    }

    /**
     * The response is a problem+json of this status and kind, complete, and it leaks nothing of the
     * database (no SQL, no exception, no stack frame, no constraint name). Returns the response for
     * further assertions.
     */
    public static ValidatableResponse assertProblem(ValidatableResponse response, int status, String kind) {
        return response.statusCode(status)
                .contentType("application/problem+json")
                .body("status", equalTo(status))
                .body("type", endsWith("/" + kind))
                .body("kind", equalTo(kind))
                .body("title", notNullValue())
                .body("detail", notNullValue())
                .body(not(containsString("SQL")), not(containsString("Exception")), not(containsString("at dev.")),
                        not(containsString("customer_email_lower_key")), not(containsString("select ")));
    }
}
