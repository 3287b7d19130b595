package dev.bastion.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import io.quarkus.runtime.configuration.DurationConverter;
import org.junit.jupiter.api.Test;

/** Durations are written as operators have always written them: seconds, fractions included. */
class SecondsConverterTest {

    private final SecondsConverter converter = new SecondsConverter();

    @Test
    void aNumberIsSecondsFractionsIncluded() {
        assertEquals(Duration.ofSeconds(30), converter.convert("30"));
        assertEquals(Duration.ofMillis(100), converter.convert("0.1"));
        assertEquals(Duration.ofSeconds(5), converter.convert("5.0"));
        assertEquals(Duration.ofMillis(1), converter.convert("0.001"));
        assertEquals(Duration.ofMillis(1500), converter.convert(" 1.5 "));
        assertEquals(Duration.ofNanos(1), converter.convert("0.0000000005"), "rounded to the nanosecond");
    }

    @Test
    void quarkusRefusesTheDocumentedFractionsThisConverterExistsFor() {
        assertThrows(IllegalArgumentException.class, () -> DurationConverter.parseDuration("0.1"));
        assertThrows(IllegalArgumentException.class, () -> DurationConverter.parseDuration("5.0"));
    }

    @Test
    void aValueWithAUnitIsReadAsQuarkusReadsDurations() {
        assertEquals(Duration.ofMillis(100), converter.convert("100ms"));
        assertEquals(Duration.ofMillis(1500), converter.convert("1.5s"));
        assertEquals(Duration.ofMinutes(2), converter.convert("2m"));
        assertEquals(Duration.ofMillis(100), converter.convert("PT0.1S"));
    }

    @Test
    void aNegativeNumberConvertsSoThatValidationNamesTheVariable() {
        assertEquals(Duration.ofSeconds(-5), converter.convert("-5"));
    }

    @Test
    void anythingElseIsRefusedWithTheWaysToWriteIt() {
        for (String value : new String[]{"abc", "NaN", "1,5", "30 seconds", "1e999999", "1e19"}) {
            IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> converter.convert(value));
            assertTrue(error.getMessage().contains(value), error.getMessage());
        }
        assertNull(converter.convert("  "), "no value: the mapping's default applies");
    }

    @Test
    void formatWritesSecondsThatConvertBack() {
        for (Duration duration : new Duration[]{Duration.ofSeconds(30), Duration.ofMillis(100), Duration.ofNanos(1),
                Duration.ofDays(365)}) {
            assertEquals(duration, converter.convert(SecondsConverter.format(duration)));
        }
        assertEquals("0.1s", SecondsConverter.format(Duration.ofMillis(100)));
        assertEquals("30s", SecondsConverter.format(Duration.ofSeconds(30)));
    }
}
