package dev.bastion.config;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;

import io.quarkus.runtime.configuration.DurationConverter;
import org.eclipse.microprofile.config.spi.Converter;

/**
 * Reads a duration the way operators write Bastion's: a plain number is seconds, fractions included
 * ({@code 30}, {@code 0.1} = 100 ms, {@code 5.0}). Quarkus' own duration converter reads {@code 30}
 * as seconds too but refuses {@code 0.1} and {@code 5.0}, which are documented defaults; anything
 * that is not a number is read as Quarkus reads its durations ({@code 100ms}, {@code 1.5s},
 * {@code 2m}, {@code PT0.1S}). Ranges are {@link SettingsCheck}'s, not this converter's: a negative
 * number converts and is then refused at start-up with a message naming the variable.
 * <p>
 * Registered on each duration property with {@code @WithConverter}, not globally, so that Quarkus'
 * own duration settings keep Quarkus' reading.
 */
public final class SecondsConverter implements Converter<Duration> {

    private static final long serialVersionUID = 1L;

    @Override
    public Duration convert(String value) {
        String text = value.trim();
        if (text.isEmpty()) {
            return null; // no value: the default applies
        }
        BigDecimal seconds = number(text);
        if (seconds == null) {
            try {
                return DurationConverter.parseDuration(text);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(notADuration(text), e);
            }
        }
        try {
            if (seconds.precision() - seconds.scale() > 19) {
                throw new ArithmeticException("more whole seconds than a long holds");
            }
            BigDecimal rounded = seconds.setScale(9, RoundingMode.HALF_UP);
            long whole = rounded.setScale(0, RoundingMode.FLOOR).longValueExact();
            return Duration.ofSeconds(whole, rounded.subtract(BigDecimal.valueOf(whole)).movePointRight(9).longValueExact());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(text + " seconds is longer than a duration can be", e);
        }
    }

    /** {@code duration} as operators read it, in seconds with a unit ({@code 30s}, {@code 0.1s}); it converts back. */
    public static String format(Duration duration) {
        return BigDecimal.valueOf(duration.getSeconds()).add(BigDecimal.valueOf(duration.getNano(), 9))
                .stripTrailingZeros().toPlainString() + "s";
    }

    /** The number {@code text} spells, or null when it is not a decimal number (a unit, an ISO duration). */
    private static BigDecimal number(String text) {
        try {
            return new BigDecimal(text);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String notADuration(String text) {
        return "\"" + text + "\" is not a duration: write seconds (30, 0.1) or a number with a unit (100ms, 5s)";
    }
}
