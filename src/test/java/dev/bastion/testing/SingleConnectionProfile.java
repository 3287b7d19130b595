package dev.bastion.testing;

import java.util.Map;

import io.quarkus.test.junit.QuarkusTestProfile;

/**
 * A pool of exactly one connection and a short request deadline: whatever a failed, abandoned or
 * hung-up unit leaves on its connection, the very next request meets it.
 */
public class SingleConnectionProfile implements QuarkusTestProfile {

    /** DB_REQUEST_TIMEOUT in this profile, seconds. */
    public static final int REQUEST_TIMEOUT_SECONDS = 3;

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of(
                "bastion.db.pool-size", "1",
                "bastion.db.max-overflow", "0",
                "bastion.db.request-timeout", Integer.toString(REQUEST_TIMEOUT_SECONDS),
                "bastion.db.pool-timeout", "2",
                "bastion.db.connect-timeout", "1",
                // a failover spell of a second or two is bridged by retries, not answered with 503
                "bastion.db.max-retries", "6",
                "bastion.db.retry-max-delay", "0.5",
                "bastion.db.breaker-request-volume", "50");
    }
}
