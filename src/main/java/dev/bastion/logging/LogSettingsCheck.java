package dev.bastion.logging;

import static java.time.Duration.ofMillis;

import dev.bastion.config.CheckedSettings;
import dev.bastion.config.SettingsProblems;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;

/** The log settings: the window in which repeated incidents are summarised. */
@ApplicationScoped
@Priority(10)
public class LogSettingsCheck implements CheckedSettings {

    private final LogSettings settings;

    public LogSettingsCheck(LogSettings settings) {
        this.settings = settings;
    }

    @Override
    public void check(SettingsProblems p) {
        p.atLeast("BASTION_LOG_INCIDENT_WINDOW", settings.incidentWindow(), ofMillis(1));
    }
}
