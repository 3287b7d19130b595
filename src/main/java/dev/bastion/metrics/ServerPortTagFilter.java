package dev.bastion.metrics;

import java.util.Set;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.config.MeterFilter;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/**
 * Gives every HTTP server's network meters a {@code server.port} tag, {@code "0"} for a server on a
 * random port. Quarkus tags them with the port only when it is fixed, so PORT=0 beside a fixed
 * MANAGEMENT_PORT (or the reverse) registers one name with two sets of tag keys. Prometheus
 * refuses that, and the refusal, thrown in the HTTP server's bind listener, left the service
 * neither listening nor stopping (not even on SIGTERM).
 */
public class ServerPortTagFilter {

    static final String SERVER_PORT = "server.port";

    /** The meters Quarkus' HTTP server binder tags with {@code server.port} (a fixed port only). */
    static final Set<String> TAGGED_WITH_THE_PORT = Set.of("http.server.active.connections", "http.server.active.requests",
            "http.server.bytes.read", "http.server.bytes.written", "http.server.connections");

    @Produces
    @Singleton
    public MeterFilter serverPortOnEveryServer() {
        return new MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                return TAGGED_WITH_THE_PORT.contains(id.getName()) && id.getTag(SERVER_PORT) == null
                        ? id.withTag(Tag.of(SERVER_PORT, "0"))
                        : id;
            }
        };
    }
}
