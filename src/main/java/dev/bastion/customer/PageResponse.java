package dev.bastion.customer;

import java.util.List;

/** One page of a list in id order. */
public record PageResponse<T>(List<T> items, int page, int size, long totalItems, long totalPages) {

    static <T> PageResponse<T> of(List<T> items, int page, int size, long total) {
        return new PageResponse<>(items, page, size, total, (total + size - 1) / size);
    }
}
