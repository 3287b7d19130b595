package dev.bastion.testing;

import java.util.Map;

import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;

/**
 * A config mapping read from {@code values} and the mapping's defaults, converted the way Quarkus
 * converts it at start-up: a value that does not convert throws
 * {@link io.smallrye.config.ConfigValidationException} naming the key. Ranges are not checked here
 * but by {@link dev.bastion.config.SettingsCheck}, as at start-up.
 */
public final class ConfigMappings {

    private ConfigMappings() {
    }

    public static <T> T read(Class<T> mapping, Map<String, String> values) {
        return new SmallRyeConfigBuilder()
                .withMapping(mapping)
                .withSources(new PropertiesConfigSource(values, "test", 100))
                .build()
                .getConfigMapping(mapping);
    }

    /** The mapping with its defaults, which are the documented ones. */
    public static <T> T defaults(Class<T> mapping) {
        return read(mapping, Map.of());
    }
}
