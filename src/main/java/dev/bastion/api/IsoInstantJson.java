package dev.bastion.api;

import java.io.IOException;
import java.time.Instant;
import java.time.LocalDate;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;

/**
 * Writes every {@link Instant} of a JSON answer (a customer's createdAt and updatedAt, ...) exactly as
 * {@link Instant#toString()} and Jackson's own serializer do (ISO-8601 in UTC, the fraction in groups of
 * three digits, none when zero), by hand: the general {@code DateTimeFormatter} costs ~2 % of a read's
 * CPU (bench/profile), this a few digit writes. Instants outside years 0000 to 9999 (none the database
 * stores) go through {@link Instant#toString()}.
 */
@Singleton
public class IsoInstantJson implements ObjectMapperCustomizer {

    private static final long FIRST_SECOND = -62_167_219_200L; // 0000-01-01T00:00:00Z
    private static final long LAST_SECOND = 253_402_300_799L; // 9999-12-31T23:59:59Z

    /** Last: a module registered later wins, and Quarkus registers Jackson's JavaTimeModule in a customizer too. */
    @Override
    public int priority() {
        return MINIMUM_PRIORITY;
    }

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.registerModule(new SimpleModule("bastion-iso-instant").addSerializer(Instant.class, new Serializer()));
    }

    /** The text {@link Instant#toString()} gives, written into {@code out} from 0; its length. */
    static int format(Instant instant, char[] out) {
        long seconds = instant.getEpochSecond();
        if (seconds < FIRST_SECOND || seconds > LAST_SECOND) {
            String text = instant.toString();
            text.getChars(0, text.length(), out, 0);
            return text.length();
        }
        LocalDate date = LocalDate.ofEpochDay(Math.floorDiv(seconds, 86_400));
        int secondOfDay = (int) Math.floorMod(seconds, 86_400);
        digits(out, 0, date.getYear(), 4);
        out[4] = '-';
        digits(out, 5, date.getMonthValue(), 2);
        out[7] = '-';
        digits(out, 8, date.getDayOfMonth(), 2);
        out[10] = 'T';
        digits(out, 11, secondOfDay / 3600, 2);
        out[13] = ':';
        digits(out, 14, secondOfDay / 60 % 60, 2);
        out[16] = ':';
        digits(out, 17, secondOfDay % 60, 2);
        int length = 19;
        int nanos = instant.getNano();
        if (nanos != 0) {
            out[length++] = '.';
            if (nanos % 1_000_000 == 0) {
                length = digits(out, length, nanos / 1_000_000, 3);
            } else if (nanos % 1000 == 0) {
                length = digits(out, length, nanos / 1000, 6);
            } else {
                length = digits(out, length, nanos, 9);
            }
        }
        out[length++] = 'Z';
        return length;
    }

    /** {@code value} as {@code width} decimal digits, zero-padded, at {@code at}; the index after them. */
    private static int digits(char[] out, int at, int value, int width) {
        for (int i = at + width - 1; i >= at; i--) {
            out[i] = (char) ('0' + value % 10);
            value /= 10;
        }
        return at + width;
    }

    static final class Serializer extends StdSerializer<Instant> {

        Serializer() {
            super(Instant.class);
        }

        @Override
        public void serialize(Instant value, JsonGenerator json, SerializerProvider provider) throws IOException {
            char[] text = new char[40]; // "+1000000000-12-31T23:59:59.999999999Z" is the longest toString()
            json.writeString(text, 0, format(value, text));
        }
    }
}
