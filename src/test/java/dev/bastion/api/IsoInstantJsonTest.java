package dev.bastion.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.SplittableRandom;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import org.junit.jupiter.api.Test;

/** The hand-written Instant text is, character for character, what the JDK and Jackson's own serializer write. */
class IsoInstantJsonTest {

    private static String format(Instant instant) {
        char[] out = new char[40];
        return new String(out, 0, IsoInstantJson.format(instant, out));
    }

    @Test
    void writesWhatInstantToStringWritesAtTheEdges() {
        for (Instant edge : new Instant[] {Instant.EPOCH, Instant.MIN, Instant.MAX, Instant.ofEpochSecond(-1),
                Instant.parse("0000-01-01T00:00:00Z"), Instant.parse("-0001-12-31T23:59:59.999999999Z"),
                Instant.parse("9999-12-31T23:59:59.999999999Z"), Instant.parse("+10000-01-01T00:00:00Z"),
                Instant.parse("2024-02-29T23:59:59.000001Z"), Instant.parse("2026-12-05T22:01:17.100Z"),
                Instant.parse("1969-12-31T23:59:59.000000001Z"), Instant.parse("2000-03-01T00:00:00.120Z"),
                Instant.parse("2026-01-01T00:00:00.123456789Z"), Instant.parse("2026-07-15T12:30:05.010200Z")}) {
            assertEquals(edge.toString(), format(edge));
        }
    }

    @Test
    void writesWhatInstantToStringWritesForAMillionRandomInstants() {
        SplittableRandom random = new SplittableRandom(5);
        for (int i = 0; i < 1_000_000; i++) {
            long seconds = random.nextLong(-62_200_000_000L, 253_500_000_000L); // a little past both ends
            int nanos = switch (i % 4) { // each fraction length: none, milli, micro (the database's), nano
                case 0 -> 0;
                case 1 -> random.nextInt(1000) * 1_000_000;
                case 2 -> random.nextInt(1_000_000) * 1000;
                default -> random.nextInt(1_000_000_000);
            };
            Instant instant = Instant.ofEpochSecond(seconds, nanos);
            assertEquals(instant.toString(), format(instant));
        }
    }

    @Test
    void theServiceMapperWritesTheSameJsonAsJacksonsJavaTimeModule() throws Exception {
        ObjectMapper jackson = new ObjectMapper().registerModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
        ObjectMapper service = new ObjectMapper().registerModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
        new IsoInstantJson().customize(service); // after the JavaTimeModule, as Quarkus applies customizers
        record Stamped(Instant createdAt, Instant updatedAt) {
        }
        Stamped stamped = new Stamped(Instant.parse("2026-12-05T22:01:17.123456Z"), Instant.parse("2026-12-05T22:01:18Z"));
        assertEquals(jackson.writeValueAsString(stamped), service.writeValueAsString(stamped));
        assertEquals(IsoInstantJson.Serializer.class,
                service.getSerializerProviderInstance().findValueSerializer(Instant.class).getClass(), "ours, not Jackson's");
    }
}
