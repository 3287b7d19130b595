package dev.bastion.api;

import java.util.List;

/**
 * One page of a list in id order.
 *
 * @param page       the offset page, or null when the page was read by key ({@code after})
 * @param totalItems the number of rows of the whole list; null unless asked for (a count is a full scan)
 * @param totalPages likewise
 * @param nextAfter  the {@code after} value that continues the list (the last id here), or null at its end
 */
public record PageResponse<T>(List<T> items, Integer page, int size, Long totalItems, Long totalPages, Long nextAfter) {

    public static <T> PageResponse<T> of(List<T> items, int page, int size, long total) {
        return new PageResponse<>(items, page, size, total, (total + size - 1) / size, null);
    }

    public static <T> PageResponse<T> of(List<T> items, Integer page, int size, Long total, Long nextAfter) {
        return new PageResponse<>(items, page, size, total, total == null ? null : (total + size - 1) / size, nextAfter);
    }
}
