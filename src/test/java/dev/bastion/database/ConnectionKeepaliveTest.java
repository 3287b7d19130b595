package dev.bastion.database;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.bastion.testing.Management;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.core.Vertx;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

/**
 * A silent network is noticed by the kernel only if the sockets ask it to. The kernel's own view
 * (ss) of the connections between the service and PostgreSQL: PostgreSQL's side runs keepalive
 * every DB_TCP_KEEPALIVE_IDLE seconds (start-up parameters), the service's side has SO_KEEPALIVE
 * on, and Vert.x runs on epoll, the transport on which it applies TCP_USER_TIMEOUT.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class ConnectionKeepaliveTest {

    private static final Pattern KEEPALIVE_TIMER =
            Pattern.compile("timer:\\(keepalive,(?:(\\d+)min)?(?:(\\d+)(?:\\.\\d+)?sec)?(?:(\\d+)ms)?");

    @Inject
    Vertx vertx;

    @Test
    void connectionsBetweenServiceAndPostgresCarryKeepaliveOnBothSides() throws Exception {
        assertTrue(vertx.isNativeTransportEnabled(), "Vert.x must run on epoll to apply TCP_USER_TIMEOUT");
        given().get("/customers/0").then().statusCode(404);  // a pooled connection
        Management.given().get("/q/health/ready").then().statusCode(200); // the probe connection
        long serviceSessions = SecondClient.queryLong(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('bastion', 'bastion-probe')");

        List<Integer> postgresSide = keepaliveSeconds("sport = :" + PostgresResource.port());
        long tuned = postgresSide.stream().filter(seconds -> seconds <= 15).count();
        assertTrue(tuned >= 2 && tuned >= serviceSessions,
                serviceSessions + " service sessions; PostgreSQL-side keepalive timers, seconds: " + postgresSide);

        List<Integer> serviceSide = keepaliveSeconds("dport = :" + PostgresResource.port());
        assertTrue(serviceSide.size() >= serviceSessions, "client sockets with SO_KEEPALIVE: " + serviceSide);
    }

    /** Seconds left on the keepalive timer of each established connection matching {@code filter}. */
    private static List<Integer> keepaliveSeconds(String filter) throws IOException, InterruptedException {
        Process ss = new ProcessBuilder("ss", "-tno", "state", "established", "( " + filter + " )")
                .redirectErrorStream(true).start();
        String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        ss.waitFor();
        List<Integer> seconds = new ArrayList<>();
        Matcher timer = KEEPALIVE_TIMER.matcher(out);
        while (timer.find()) {
            int minutes = timer.group(1) == null ? 0 : Integer.parseInt(timer.group(1));
            int secs = timer.group(2) == null ? 0 : Integer.parseInt(timer.group(2));
            seconds.add(minutes * 60 + secs);
        }
        return seconds;
    }
}
