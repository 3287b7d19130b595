package dev.bastion.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.bastion.testing.PackagedService;
import dev.bastion.testing.Ports;
import dev.bastion.testing.TestDatabases;
import org.junit.jupiter.api.Test;

/**
 * The packaged service with one port random (0) and the other fixed: it starts, serves on both, and
 * its metrics report the API's traffic. Quarkus' HTTP binder tagged a fixed port's network meters with
 * the port and a random one's without; Prometheus refused the mix and the start stalled for good. That
 * binder is off now ({@link HttpRequestTimer} times the requests, with no port tag at all): nothing here
 * must bring that mix back.
 */
class RandomPortIT {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @Test
    void aRandomApiPortBesideAFixedManagementPortStartsAndIsMeasured() throws Exception {
        String db = TestDatabases.fresh("random_port");
        int management = Ports.closedPort(); // free now, for the service to bind
        try (PackagedService service = PackagedService.against(db, Map.of("PORT", "0", "MANAGEMENT_PORT", String.valueOf(management)))) {
            assertTrue(service.waitForLog("Listening on"), "never listened: " + service.output());
            Matcher api = Pattern.compile("Listening on: http://[^:]+:(\\d+)").matcher(service.output());
            assertTrue(api.find(), service.output());

            assertEquals(200, get(Integer.parseInt(api.group(1)), "/customers?size=1").statusCode());
            assertEquals(200, get(management, "/q/health/ready").statusCode());
            String metrics = get(management, "/q/metrics").body();
            assertTrue(metrics.matches("(?s).*http_server_requests_seconds_count\\{method=\"GET\",outcome=\"SUCCESS\",status=\"200\","
                    + "uri=\"/customers\"} 1\\.0.*"), "the API server's traffic: " + metrics);
        }
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
