package dev.bastion.customer;

import java.util.List;

/** What an import created, and which rows the database refused (with why), in request order. */
public record ImportResponse(List<CustomerResponse> created, List<Rejected> rejected) {

    /** A refused row: its position in the request and the reason in API terms. */
    public record Rejected(int index, String email, String kind, String field, String detail) {
    }
}
