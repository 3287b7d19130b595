package dev.bastion.transfer;

import dev.bastion.api.ApiProblem;

/** The transfer feature's own errors, in API terms. */
final class TransferProblems {

    private TransferProblems() {
    }

    static ApiProblem closed(long id, String field) {
        return ApiProblem.status(422, "customer-closed", "Customer closed")
                .detail("Customer " + id + " is closed and cannot send or receive credit.")
                .field(field)
                .suggestion("Reactivate the customer (PUT with \"status\": \"ACTIVE\") first.")
                .build();
    }
}
