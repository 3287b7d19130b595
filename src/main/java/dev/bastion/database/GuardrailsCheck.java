package dev.bastion.database;

import java.util.ArrayList;
import java.util.List;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Checks the relations between guardrail settings that single-value constraints cannot express,
 * and refuses to start with one message naming every bad variable.
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
        if (g.retryMaxDelay() < g.retryBaseDelay()) {
            problems.add("DB_RETRY_MAX_DELAY (" + g.retryMaxDelay() + ") must not be below DB_RETRY_BASE_DELAY ("
                    + g.retryBaseDelay() + ")");
        }
        if (g.retryDeadline() < g.retryBaseDelay()) {
            problems.add("DB_RETRY_DEADLINE (" + g.retryDeadline() + ") must not be below DB_RETRY_BASE_DELAY ("
                    + g.retryBaseDelay() + ")");
        }
        if (g.commandTimeout() > g.sessionTimeout()) {
            problems.add("DB_COMMAND_TIMEOUT (" + g.commandTimeout() + ") must not exceed DB_SESSION_TIMEOUT ("
                    + g.sessionTimeout() + ")");
        }
        if (g.poolTimeout() > g.requestTimeout()) {
            problems.add("DB_POOL_TIMEOUT (" + g.poolTimeout() + ") must not exceed DB_REQUEST_TIMEOUT ("
                    + g.requestTimeout() + "): a request would give up before its pool wait ends");
        }
        if (g.connectTimeout() > g.requestTimeout()) {
            problems.add("DB_CONNECT_TIMEOUT (" + g.connectTimeout() + ") must not exceed DB_REQUEST_TIMEOUT ("
                    + g.requestTimeout() + ")");
        }
        return problems;
    }
}
