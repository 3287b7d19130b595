package dev.bastion.customer;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

import dev.bastion.api.ApiProblem;

/** The customer feature's own errors, in API terms. */
public final class CustomerProblems {

    private CustomerProblems() {
    }

    /** {@code customer} when it exists; the 404 problem for {@code id} when the lookup found nothing. */
    public static <T> T existing(T customer, long id) {
        if (customer == null) {
            throw notFound(id);
        }
        return customer;
    }

    public static ApiProblem notFound(long id) {
        return ApiProblem.status(404, "customer-not-found", "Customer not found")
                .detail("No customer with id " + id + ".")
                .field("id")
                .suggestion("Check the id, or list customers with GET /customers.")
                .build();
    }

    static ApiProblem duplicateEmail(String email, Throwable cause) {
        return ApiProblem.status(409, "unique-violation", "Duplicate value")
                .detail("A customer with this email already exists (emails are compared without case).")
                .field("email")
                .suggestion("Fetch the existing customer: GET /customers?email="
                        + URLEncoder.encode(email, StandardCharsets.UTF_8) + ", or use another email.")
                .causedBy(cause);
    }

    /** {@code dependents}: what still refers to the customer, in API words ("notes", "credit transfers"). */
    static ApiProblem hasDependents(long id, String dependents, Throwable cause) {
        return ApiProblem.status(409, "foreign-key-violation", "Customer has dependent records")
                .detail("Customer " + id + " still has " + dependents + ", so it cannot be deleted.")
                .field("id")
                .suggestion("Close the customer instead (PUT with \"status\": \"CLOSED\")"
                        + ("notes".equals(dependents) ? ", or delete its notes first." : "; the ledger keeps its history."))
                .causedBy(cause);
    }

    static ApiProblem staleVersion(long id, long sent, long current) {
        return ApiProblem.status(409, "concurrent-modification", "Concurrent modification")
                .detail("Customer " + id + " is at version " + current + ", but the update was based on version " + sent + ".")
                .field("version")
                .suggestion("GET /customers/" + id + " again, reapply your change and send its current version.")
                .build();
    }

    public static ApiProblem insufficientCredit(long id, Throwable cause) {
        return ApiProblem.status(422, "insufficient-credit", "Insufficient credit")
                .detail("The change would make the credit balance of customer " + id + " negative.")
                .field("amount")
                .suggestion("Use a smaller amount, or add credit first.")
                .causedBy(cause);
    }
}
