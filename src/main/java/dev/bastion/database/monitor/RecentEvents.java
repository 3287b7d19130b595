package dev.bastion.database.monitor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/** The last {@code capacity} events, newest first; bounded so a storm cannot grow memory. */
final class RecentEvents<E> {

    private final int capacity;
    private final ConcurrentLinkedDeque<E> events = new ConcurrentLinkedDeque<>();
    private final AtomicInteger size = new AtomicInteger();

    RecentEvents(int capacity) {
        this.capacity = capacity;
    }

    void add(E event) {
        events.addFirst(event);
        if (size.incrementAndGet() > capacity && events.pollLast() != null) {
            size.decrementAndGet();
        }
    }

    List<E> newestFirst(int limit) {
        List<E> out = new ArrayList<>(Math.min(limit, capacity));
        for (E e : events) {
            if (out.size() == limit) {
                break;
            }
            out.add(e);
        }
        return out;
    }
}
