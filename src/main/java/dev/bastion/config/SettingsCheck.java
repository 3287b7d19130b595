package dev.bastion.config;

import java.util.List;

import io.quarkus.arc.All;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.interceptor.Interceptor;

/**
 * Where the service's settings are checked before anything uses them: every feature's
 * {@link CheckedSettings} (the database's, the idempotency keys', the logs'), in one pass, so that a
 * bad configuration stops start-up with one message naming every bad environment variable. This
 * package knows no feature: each checks its own settings and registers here as a bean.
 * <p>
 * Plain Java on purpose: Bean Validation constraints on the {@code @ConfigMapping}s made Quarkus
 * bootstrap Hibernate Validator for its config validator, about a third of start-up CPU. The
 * database pool is built during Hibernate Reactive's boot, before {@link StartupEvent}, so the pool
 * creator runs this check first; the start-up observer covers the rest.
 */
@ApplicationScoped
public class SettingsCheck {

    private final List<CheckedSettings> checks;

    /** {@code checks} in the order their problems are reported (by their beans' priority, highest first). */
    public SettingsCheck(@All List<CheckedSettings> checks) {
        this.checks = List.copyOf(checks);
    }

    // before every other start-up observer: a pod with bad settings must not migrate the schema first
    void onStart(@Observes @Priority(Interceptor.Priority.LIBRARY_BEFORE) StartupEvent start) {
        refuseInvalid();
    }

    /** Throws, naming every bad variable at once, when any setting is out of range or contradicts another. */
    public void refuseInvalid() {
        List<String> problems = problems(checks);
        if (!problems.isEmpty()) {
            throw new IllegalStateException("Invalid configuration: " + String.join("; ", problems));
        }
    }

    /** Everything wrong with these settings, in order; empty when nothing is. */
    public static List<String> problems(List<? extends CheckedSettings> checks) {
        SettingsProblems problems = new SettingsProblems();
        checks.forEach(check -> check.check(problems));
        return problems.list();
    }
}
