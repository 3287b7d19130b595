package dev.bastion.logging;

import java.time.Duration;

import dev.bastion.config.SecondsConverter;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
import io.smallrye.config.WithDefault;
import org.hibernate.validator.constraints.time.DurationMin;

/** How the service's own failure lines are grouped (bastion.log.*); see {@link BurstLog}. */
@ConfigMapping(prefix = "bastion.log")
public interface LogSettings {

    /**
     * Alike failures within this window share one line and a counted summary, seconds
     * (BASTION_LOG_INCIDENT_WINDOW).
     */
    @DurationMin(millis = 1, message = "BASTION_LOG_INCIDENT_WINDOW must be at least 0.001 seconds")
    @WithDefault("60") @WithConverter(SecondsConverter.class)
    Duration incidentWindow();
}
