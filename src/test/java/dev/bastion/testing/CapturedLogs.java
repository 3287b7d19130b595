package dev.bastion.testing;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.jboss.logmanager.ExtLogRecord;

/**
 * Every log record of WARN or above that the application writes while open, caught on the JBoss
 * LogManager's root logger (the one Quarkus's console handler hangs on). For {@code @QuarkusTest}
 * only: the test and the application share the JVM.
 */
public final class CapturedLogs extends Handler implements AutoCloseable {

    /** A captured line: logger, level and the message as the console shows it. */
    public record Line(String logger, Level level, String message) {
        @Override
        public String toString() {
            return level + " [" + logger + "] " + message;
        }
    }

    private final ConcurrentLinkedQueue<Line> lines = new ConcurrentLinkedQueue<>();

    private CapturedLogs() {
        setLevel(Level.WARNING);
    }

    public static CapturedLogs start() {
        CapturedLogs capture = new CapturedLogs();
        Logger.getLogger("").addHandler(capture);
        return capture;
    }

    public List<Line> lines() {
        return List.copyOf(lines);
    }

    @Override
    public void publish(LogRecord record) {
        if (record.getLevel().intValue() < Level.WARNING.intValue()) {
            return;
        }
        String message = record instanceof ExtLogRecord ext ? ext.getFormattedMessage() : record.getMessage();
        lines.add(new Line(record.getLoggerName(), record.getLevel(), message));
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        Logger.getLogger("").removeHandler(this);
    }
}
