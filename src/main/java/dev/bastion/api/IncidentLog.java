package dev.bastion.api;

import java.time.Duration;

import dev.bastion.logging.BurstLog;
import dev.bastion.logging.LogSettings;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/**
 * The log lines of server-side failures (5xx). Each response gets an incident id that its problem
 * body shows and its log line carries; alike failures within {@code bastion.log.incident-window}
 * (an outage) share one WARN line and one summary with their count (see {@link BurstLog}).
 */
@Singleton
public class IncidentLog {

    private static final Logger LOG = Logger.getLogger(IncidentLog.class);

    private final BurstLog classified;
    private final BurstLog unexpected;

    public IncidentLog(LogSettings settings) {
        Duration window = settings.incidentWindow();
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
