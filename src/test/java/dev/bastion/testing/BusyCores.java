package dev.bastion.testing;

import java.util.ArrayList;
import java.util.List;

/**
 * Threads that keep the machine's cores busy, in the service's own JVM: its event loops then wait
 * their turn for a core, as under a crowd the cores cannot keep up with. Stopped on close.
 */
public final class BusyCores implements AutoCloseable {

    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean running = true;

    private BusyCores(int count) {
        for (int i = 0; i < count; i++) {
            Thread thread = new Thread(this::spin, "busy-core-" + i);
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
    }

    /** {@code count} spinning threads; a few per core keep the loops waiting. */
    public static BusyCores start(int count) {
        return new BusyCores(count);
    }

    private void spin() {
        long x = 0;
        while (running) {
            x += System.nanoTime() & 7;
        }
        if (x == 42) {
            Thread.yield(); // keeps the loop from being optimised away
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        for (Thread thread : threads) {
            thread.join(5_000);
        }
    }
}
