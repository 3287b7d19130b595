package dev.bastion.database;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.bastion.config.SecondsConverter;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Checks the relations between guardrail settings that single-value constraints cannot express,
 * and refuses to start with one message naming every bad variable. Each value's own range is
 * checked earlier, by the constraints on {@link DatabaseGuardrails}.
 */
@ApplicationScoped
public class GuardrailsCheck {

    void onStart(@Observes StartupEvent start, DatabaseGuardrails guardrails) {
        List<String> problems = problems(guardrails);
        if (!problems.isEmpty()) {
            throw new IllegalStateException("Invalid database configuration: " + String.join("; ", problems));
        }
    }

    static List<String> problems(DatabaseGuardrails g) {
        List<String> problems = new ArrayList<>();
        if (g.retryMaxDelay().compareTo(g.retryBaseDelay()) < 0) {
            problems.add("DB_RETRY_MAX_DELAY (" + seconds(g.retryMaxDelay()) + ") must not be below DB_RETRY_BASE_DELAY ("
                    + seconds(g.retryBaseDelay()) + ")");
        }
        if (g.retryDeadline().compareTo(g.retryBaseDelay()) < 0) {
            problems.add("DB_RETRY_DEADLINE (" + seconds(g.retryDeadline()) + ") must not be below DB_RETRY_BASE_DELAY ("
                    + seconds(g.retryBaseDelay()) + ")");
        }
        if (g.commandTimeout().compareTo(g.sessionTimeout()) > 0) {
            problems.add("DB_COMMAND_TIMEOUT (" + seconds(g.commandTimeout()) + ") must not exceed DB_SESSION_TIMEOUT ("
                    + seconds(g.sessionTimeout()) + ")");
        }
        if (g.poolTimeout().compareTo(g.requestTimeout()) > 0) {
            problems.add("DB_POOL_TIMEOUT (" + seconds(g.poolTimeout()) + ") must not exceed DB_REQUEST_TIMEOUT ("
                    + seconds(g.requestTimeout()) + "): a request would give up before its pool wait ends");
        }
        if (g.connectTimeout().compareTo(g.requestTimeout()) > 0) {
            problems.add("DB_CONNECT_TIMEOUT (" + seconds(g.connectTimeout()) + ") must not exceed DB_REQUEST_TIMEOUT ("
                    + seconds(g.requestTimeout()) + ")");
        }
        return problems;
    }

    private static String seconds(Duration value) {
        return SecondsConverter.format(value);
    }
}
