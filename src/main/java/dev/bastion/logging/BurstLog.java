package dev.bastion.logging;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.jboss.logging.Logger;

/**
 * Logs a burst of alike events (same key) as one line for the first and one summary with the count
 * for the rest, instead of a line each: an outage fails every request the same way, and a log that
 * repeats it a thousand times hides what else happened. Every event gets an id, {@code <burst>-<n>};
 * the first line names {@code <burst>-1}, the summary the range {@code <burst>-2 to <burst>-<last>},
 * so any id a caller reports is found by grepping its burst. The rest are logged one by one at DEBUG.
 */
public final class BurstLog implements AutoCloseable {

    private final Logger log;
    private final Logger.Level level;
    private final String label;
    private final long windowNanos;
    private final Map<String, Burst> bursts = new ConcurrentHashMap<>();
    private final ScheduledExecutorService flusher;

    /** Events of one key within one window. Mutated only inside the map's atomic compute. */
    private static final class Burst {
        final String prefix = UUID.randomUUID().toString().substring(0, 8);
        final long started;
        final String firstMessage;
        long events;

        Burst(long started, String firstMessage) {
            this.started = started;
            this.firstMessage = firstMessage;
        }
    }

    /**
     * @param label what an event is called in the lines ("Incident": {@code Incident 1a2b3c4d-1: ...},
     *              {@code Incidents 1a2b3c4d-2 to 1a2b3c4d-9: ...})
     */
    public BurstLog(Logger log, Logger.Level level, String label, Duration window) {
        this.log = log;
        this.level = level;
        this.label = label;
        this.windowNanos = window.toNanos();
        this.flusher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "bastion-burst-log");
            thread.setDaemon(true);
            return thread;
        });
        long period = Math.max(100, Math.min(1000, window.toMillis() / 4));
        flusher.scheduleWithFixedDelay(this::flushExpired, period, period, TimeUnit.MILLISECONDS);
    }

    /**
     * Records one event and returns its id. The first of a burst is logged at this log's level (with
     * {@code cause}'s stack trace, if any), the others at DEBUG until the summary.
     */
    public String record(String key, String message, Throwable cause) {
        long now = System.nanoTime();
        Burst[] ended = new Burst[1];
        String[] id = new String[1];
        boolean[] first = new boolean[1];
        bursts.compute(key, (k, current) -> {
            Burst burst = current;
            if (burst == null || now - burst.started >= windowNanos) {
                ended[0] = current;
                burst = new Burst(now, message);
                first[0] = true;
            }
            burst.events++;
            id[0] = burst.prefix + "-" + burst.events;
            return burst;
        });
        if (ended[0] != null) {
            summarize(ended[0]);
        }
        if (first[0]) {
            log.logf(level, cause, "%s %s: %s", label, id[0], message);
        } else {
            log.debugf("%s %s: %s", label, id[0], message);
        }
        return id[0];
    }

    /** Writes the summaries of the bursts whose window has ended. */
    void flushExpired() {
        long now = System.nanoTime();
        List<Burst> ended = new ArrayList<>();
        for (String key : bursts.keySet()) {
            bursts.computeIfPresent(key, (k, burst) -> {
                if (now - burst.started >= windowNanos) {
                    ended.add(burst);
                    return null;
                }
                return burst;
            });
        }
        ended.forEach(this::summarize);
    }

    private void summarize(Burst burst) {
        if (burst.events > 1) {
            log.logf(level, "%ss %s-2 to %s-%d: %d more like %s-1 (%s) within %d s", label,
                    burst.prefix, burst.prefix, burst.events, burst.events - 1, burst.prefix, burst.firstMessage,
                    TimeUnit.NANOSECONDS.toSeconds(windowNanos));
        }
    }

    @Override
    public void close() {
        flusher.shutdownNow();
        flushAll();
    }

    private void flushAll() {
        List<Burst> remaining = new ArrayList<>();
        for (String key : bursts.keySet()) {
            Burst burst = bursts.remove(key);
            if (burst != null) {
                remaining.add(burst);
            }
        }
        remaining.forEach(this::summarize);
    }
}
