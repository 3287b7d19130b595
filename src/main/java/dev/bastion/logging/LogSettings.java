package dev.bastion.logging;

import java.time.Duration;

import dev.bastion.config.SecondsConverter;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
import io.smallrye.config.WithDefault;

/**
 * How the service's own failure lines are grouped (bastion.log.*); see {@link BurstLog}. Ranges are
 * checked by {@link LogSettingsCheck}.
 */
@ConfigMapping(prefix = "bastion.log")
public interface LogSettings {

    /**
     * Alike failures within this window share one line and a counted summary, seconds
     * (BASTION_LOG_INCIDENT_WINDOW).
     */
    @WithDefault("60") @WithConverter(SecondsConverter.class)
    Duration incidentWindow();
}
