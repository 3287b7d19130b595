package dev.bastion.testing;

import java.util.Map;

import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;
import io.smallrye.config.validator.BeanValidationConfigValidator;
import jakarta.validation.Validation;
import jakarta.validation.Validator;
import org.hibernate.validator.messageinterpolation.ParameterMessageInterpolator;

/**
 * A config mapping read from {@code values} and the mapping's defaults, converted and validated the
 * way Quarkus does at start-up: a value out of range, or one that does not convert, throws
 * {@link io.smallrye.config.ConfigValidationException} naming the key.
 */
public final class ConfigMappings {

    private static final Validator VALIDATOR = Validation.byDefaultProvider().configure()
            .messageInterpolator(new ParameterMessageInterpolator()).buildValidatorFactory().getValidator();

    private ConfigMappings() {
    }

    public static <T> T read(Class<T> mapping, Map<String, String> values) {
        return new SmallRyeConfigBuilder()
                .withMapping(mapping)
                .withValidator((BeanValidationConfigValidator) () -> VALIDATOR)
                .withSources(new PropertiesConfigSource(values, "test", 100))
                .build()
                .getConfigMapping(mapping);
    }

    /** The mapping with its defaults, which are the documented ones. */
    public static <T> T defaults(Class<T> mapping) {
        return read(mapping, Map.of());
    }
}
