package dev.bastion.database;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

    /** One ss line: local address and port, peer address and port, then the keepalive timer. */
    private static final Pattern SOCKET = Pattern.compile(
            "\\S+:(\\d+)\\s+\\S+:(\\d+)\\s+timer:\\(keepalive,(?:(\\d+)min)?(?:(\\d+)(?:\\.\\d+)?sec)?(?:\\d+ms)?");

    @Inject
    Vertx vertx;

    @Test
    void connectionsBetweenServiceAndPostgresCarryKeepaliveOnBothSides() throws Exception {
        assertTrue(vertx.isNativeTransportEnabled(), "Vert.x must run on epoll to apply TCP_USER_TIMEOUT");
        given().get("/customers/0").then().statusCode(404);  // a pooled connection
        Management.given().get("/q/health/ready").then().statusCode(200); // the probe connection
        // the service's sessions by client port, so each is matched with its own socket (sessions of test
        // apps that stopped before this one may still be closing: they are not compared)
        List<Integer> servicePorts = SecondClient.pids(
                "SELECT client_port FROM pg_stat_activity WHERE application_name IN ('bastion', 'bastion-probe')");

        // PostgreSQL's sockets, by the port of their peer: the service's side of the connection
        Map<Integer, Integer> postgresSide = keepaliveSeconds("sport = :" + PostgresResource.port(), 2);
        List<Integer> serviceTimers = servicePorts.stream().filter(postgresSide::containsKey).map(postgresSide::get).toList();
        assertTrue(serviceTimers.size() >= 2, "the pooled and the probe connection were found: " + postgresSide);
        assertTrue(serviceTimers.stream().allMatch(seconds -> seconds <= 15),
                "PostgreSQL-side keepalive timers of the service's sessions, seconds: " + serviceTimers);

        // the service's sockets, by their own port: SO_KEEPALIVE on (the kernel's timers, see the README)
        Map<Integer, Integer> serviceSide = keepaliveSeconds("dport = :" + PostgresResource.port(), 1);
        List<Integer> withKeepalive = servicePorts.stream().filter(serviceSide::containsKey).toList();
        assertTrue(withKeepalive.size() >= serviceTimers.size(),
                "service sockets with SO_KEEPALIVE: " + withKeepalive + " of the sessions " + servicePorts);
    }

    /**
     * Seconds left on the keepalive timer of each established connection matching {@code filter}, by
     * the local ({@code portGroup} 1) or the peer ({@code portGroup} 2) port of the socket.
     */
    private static Map<Integer, Integer> keepaliveSeconds(String filter, int portGroup) throws IOException, InterruptedException {
        Process ss = new ProcessBuilder("ss", "-tno", "state", "established", "( " + filter + " )")
                .redirectErrorStream(true).start();
        String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        ss.waitFor();
        Map<Integer, Integer> seconds = new HashMap<>();
        Matcher line = SOCKET.matcher(out);
        while (line.find()) {
            int minutes = line.group(3) == null ? 0 : Integer.parseInt(line.group(3));
            int secs = line.group(4) == null ? 0 : Integer.parseInt(line.group(4));
            seconds.put(Integer.parseInt(line.group(portGroup)), minutes * 60 + secs);
        }
        return seconds;
    }
}
