package dev.bastion.api;

import java.time.Duration;

import dev.bastion.logging.BurstLog;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The log lines of server-side failures (5xx). Each response gets an incident id that its problem
 * body shows and its log line carries; alike failures within {@code bastion.log.incident-window}
 * seconds (an outage) share one WARN line and one summary with their count (see {@link BurstLog}).
 */
@ApplicationScoped
public class IncidentLog {

    private static final Logger LOG = Logger.getLogger(IncidentLog.class);

    private final BurstLog classified;
    private final BurstLog unexpected;

    public IncidentLog(@ConfigProperty(name = "bastion.log.incident-window", defaultValue = "60") double windowSeconds) {
        Duration window = Duration.ofMillis(Math.round(windowSeconds * 1000));
        this.classified = new BurstLog(LOG, Logger.Level.WARN, "Incident", window);
        this.unexpected = new BurstLog(LOG, Logger.Level.ERROR, "Incident", window);
    }

    /** A failure the service understands (database down, contention, timeout): no stack trace. */
    public String failure(int status, String kind, String path, String description, Throwable cause) {
        return classified.record(status + " " + kind, path + " -> " + status + " " + kind + ": " + description, cause);
    }

    /** Something nobody foresaw: the first of its kind is logged with its stack trace. */
    public String unexpected(String path, String description, Throwable error) {
        return unexpected.record(error.getClass().getName(), path + " -> 500: " + description, error);
    }

    @PreDestroy
    void close() {
        classified.close();
        unexpected.close();
    }
}
