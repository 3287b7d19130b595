package dev.bastion.customer;

import dev.bastion.api.ApiProblem;

/**
 * Which customers one list request reads. OFFSET makes PostgreSQL read and discard every row before
 * the page, so offset paging is capped at {@link #MAX_OFFSET} rows; deeper reads continue by key
 * ({@code after=<last id>}, an index range scan whatever the depth). The total needs a count over
 * the whole table, so it is computed only when asked for ({@code count=true}).
 *
 * @param page  offset page, 0-based (null with {@code after})
 * @param after keyset: the items with an id above this one (null for offset paging)
 */
public record CustomerPage(Integer page, int size, Long after, boolean count) {

    public static final int MAX_OFFSET = 10_000;

    /** Validates the combination of query parameters; single values are checked by Bean Validation. */
    static CustomerPage of(int page, int size, Long after, boolean count) {
        if (after != null) {
            if (page != 0) {
                throw ApiProblem.status(400, "validation", "Invalid request parameter")
                        .detail("Use either page or after, not both.")
                        .field("after")
                        .suggestion("Drop page: after=<id> continues right after the customer with that id.")
                        .build();
            }
            return new CustomerPage(null, size, after, count);
        }
        if ((long) page * size > MAX_OFFSET) {
            throw ApiProblem.status(400, "page-too-deep", "Page too deep")
                    .detail("Offset paging reaches at most " + MAX_OFFSET + " customers (page × size); page " + page
                            + " of size " + size + " starts at " + (long) page * size + ".")
                    .field("page")
                    .suggestion("Continue with after=<id of the last customer you have> (each response's nextAfter), "
                            + "which costs the same at any depth.")
                    .build();
        }
        return new CustomerPage(page, size, null, count);
    }
}
