package dev.bastion.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.bastion.testing.PostgresResource;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/**
 * Several pooled connections open at once register no per-connection gauge: each would have the same id
 * (Micrometer then logs a WARN and shows only the first connection's value). Their counters stay.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class PerConnectionGaugesTest {

    @Inject
    Pool pool;

    @Inject
    MeterRegistry registry;

    @Test
    void severalConnectionsRegisterNoGaugeOfTheirOwn() {
        List<SqlConnection> held = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) { // held together: the pool must open three
                SqlConnection connection = pool.getConnection().await().atMost(Duration.ofSeconds(10));
                connection.query("SELECT 1").execute().await().atMost(Duration.ofSeconds(10));
                held.add(connection);
            }
        } finally {
            held.forEach(c -> c.close().await().atMost(Duration.ofSeconds(10)));
        }
        List<String> sqlClientGauges = registry.getMeters().stream().map(Meter::getId)
                .filter(id -> id.getType() == Meter.Type.GAUGE && "sql".equals(id.getTag(PerConnectionGaugeFilter.CLIENT_TYPE)))
                .map(Meter.Id::getName).toList();
        assertEquals(List.of(), sqlClientGauges, "per-connection gauges (postgresql.current, postgresql.queue.size)");
        assertTrue(registry.getMeters().stream().map(Meter::getId)
                        .anyMatch(id -> "sql".equals(id.getTag(PerConnectionGaugeFilter.CLIENT_TYPE))),
                "the SQL client's other meters stay");
    }
}
