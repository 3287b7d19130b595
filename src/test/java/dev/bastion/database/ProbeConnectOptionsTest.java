package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import dev.bastion.testing.Management;
import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.SslMode;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/**
 * The readiness probe speaks to PostgreSQL exactly as the pool does (TLS mode and trust settings,
 * credentials, keepalive), so a TLS-only managed database is not reported down forever because the
 * probe connected differently.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@TestProfile(ProbeConnectOptionsTest.TlsPreferred.class)
class ProbeConnectOptionsTest {

    public static class TlsPreferred implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            // "allow": the test server has no certificate, so the session falls back to plain TCP
            return Map.of("quarkus.datasource.reactive.postgresql.ssl-mode", "allow",
                    "quarkus.datasource.reactive.trust-all", "true");
        }
    }

    @Inject
    DatabaseProbe probe;

    @Inject
    GuardedPoolCreator pool;

    @Test
    void theProbeConnectsWithThePoolsTlsAndCredentials() {
        Management.given().get("/q/health/ready").then().statusCode(200);

        PgConnectOptions pooled = pool.connectOptions().orElseThrow();
        PgConnectOptions probed = probe.options().await().atMost(java.time.Duration.ofSeconds(5));
        assertEquals(SslMode.ALLOW, pooled.getSslMode());
        assertEquals(pooled.getSslMode(), probed.getSslMode());
        assertTrue(probed.isTrustAll());
        assertEquals(pooled.getUser(), probed.getUser());
        assertEquals(pooled.getPassword(), probed.getPassword());
        assertEquals(pooled.getTcpUserTimeout(), probed.getTcpUserTimeout());
        assertEquals("15", probed.getProperties().get("tcp_keepalives_idle"));
        assertEquals("bastion-probe", probed.getProperties().get("application_name"));
        assertEquals("bastion", pooled.getProperties().get("application_name"), "the pool's own options stay untouched");
    }
}
