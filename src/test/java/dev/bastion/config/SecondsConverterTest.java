package dev.bastion.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import io.quarkus.runtime.configuration.DurationConverter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Durations are written as operators have always written them: seconds, fractions included. */
class SecondsConverterTest {

    private final SecondsConverter converter = new SecondsConverter();

    /** A number is seconds, fractions included; a value with a unit is read as Quarkus reads durations. */
    @ParameterizedTest
    @CsvSource({"30, PT30S", "0.1, PT0.1S", "5.0, PT5S", "0.001, PT0.001S", "' 1.5 ', PT1.5S",
            "0.0000000005, PT0.000000001S", "100ms, PT0.1S", "1.5s, PT1.5S", "2m, PT2M", "PT0.1S, PT0.1S"})
    void readsSecondsAndValuesWithAUnit(String written, String expected) {
        assertEquals(Duration.parse(expected), converter.convert(written));
    }

    @Test
    void quarkusRefusesTheDocumentedFractionsThisConverterExistsFor() {
        assertThrows(IllegalArgumentException.class, () -> DurationConverter.parseDuration("0.1"));
        assertThrows(IllegalArgumentException.class, () -> DurationConverter.parseDuration("5.0"));
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
