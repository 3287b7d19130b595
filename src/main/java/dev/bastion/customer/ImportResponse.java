package dev.bastion.customer;

import java.util.List;

import io.quarkus.runtime.annotations.RegisterForReflection;

/** What an import created, and which rows the database refused (with why), in request order. */
@RegisterForReflection // serialised to JSON inside a generic or untyped response
public record ImportResponse(List<CustomerResponse> created, List<Rejected> rejected) {

    /** A refused row: its position in the request and the reason in API terms. */
    @RegisterForReflection // serialised to JSON inside a generic or untyped response
    public record Rejected(int index, String email, String kind, String field, String detail) {
    }
}
