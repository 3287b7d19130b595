package dev.bastion.database;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.bastion.testing.CapturedLogs;
import dev.bastion.testing.RestartablePostgresResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL really stops while requests keep coming: the log gets a line per kind of failure and a
 * summary with the count, not a WARN per request, and every incident id a 503 body shows can be found
 * in the log (its own line, or the summary naming its range).
 */
@QuarkusTest
@TestProfile(OutageLogTest.OutageWithShortLogWindow.class)
class OutageLogTest {

    static final int REQUESTS = 100;
    static final int WINDOW_SECONDS = 8;
    private static final Pattern SUMMARY = Pattern.compile("Incidents ([0-9a-f]{8})-2 to \\1-(\\d+): (\\d+) more");
    private static final Pattern FIRST = Pattern.compile("Incident ([0-9a-f]{8})-1: ");

    /** The breaker opens after a few failures and stays open: requests then fail within milliseconds. */
    public static class OutageWithShortLogWindow implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "bastion.db.connect-timeout", "1",
                    "bastion.db.max-retries", "1",
                    "bastion.db.breaker-request-volume", "4",
                    "bastion.db.breaker-failure-ratio", "0.5",
                    "bastion.db.breaker-delay", "60",
                    "bastion.log.incident-window", String.valueOf(WINDOW_SECONDS));
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(RestartablePostgresResource.class));
        }
    }

    @Test
    void anOutageIsLoggedOnceAKindWithACountAndEveryIncidentIdIsInTheLog() throws Exception {
        long id = given().contentType(ContentType.JSON).body("{\"name\":\"Logged\",\"email\":\"logged@example.org\"}")
                .post("/customers").then().statusCode(201).extract().jsonPath().getLong("id");

        List<String> incidents = new ArrayList<>();
        double elapsedSeconds;
        List<CapturedLogs.Line> lines;
        try (CapturedLogs logs = CapturedLogs.start()) {
            RestartablePostgresResource.stopServer();
            long started = System.nanoTime();
            try {
                for (int i = 0; i < REQUESTS; i++) {
                    Response response = given().get("/customers/" + id);
                    assertEquals(503, response.statusCode(), response.asString());
                    String incident = response.jsonPath().getString("incident");
                    assertNotNull(incident, "a 503 body names its incident: " + response.asString());
                    assertTrue(response.jsonPath().getString("detail").indexOf("SQL") < 0);
                    incidents.add(incident);
                }
                elapsedSeconds = (System.nanoTime() - started) / 1e9;
                // the summaries are written when the window has passed: wait for them, bounded well past it
                long until = System.nanoTime() + (WINDOW_SECONDS + 30) * 1_000_000_000L;
                while (!uncovered(incidents, logs.lines()).isEmpty() && System.nanoTime() < until) {
                    Thread.sleep(50);
                }
            } finally {
                RestartablePostgresResource.startServerAgain();
            }
            lines = logs.lines();
        }

        assertEquals(REQUESTS, incidents.stream().distinct().count(), "one incident id per response: " + incidents);
        // per kind of failure and window: its first line and a summary; a few lines besides (breaker, pools)
        long kinds = lines.stream().map(CapturedLogs.Line::message).filter(m -> m.startsWith("Incident "))
                .map(m -> m.replaceAll("^Incident \\S+: \\S+ -> ", "")).distinct().count();
        double windows = Math.ceil(elapsedSeconds / WINDOW_SECONDS) + 1;
        assertTrue(lines.size() <= 5 + 2 * kinds * windows && lines.size() < REQUESTS / 4,
                lines.size() + " lines of WARN or above for " + REQUESTS + " failed requests in " + elapsedSeconds
                        + " s:\n" + join(lines));

        assertTrue(lines.stream().anyMatch(l -> SUMMARY.matcher(l.message()).find()), "no summary with a count:\n" + join(lines));
        List<String> missing = uncovered(incidents, lines);
        assertTrue(missing.isEmpty(), "incidents in no log line " + missing + ":\n" + join(lines));
        for (CapturedLogs.Line line : lines) {
            boolean aboutResponses = line.logger().startsWith("dev.bastion.api");
            assertTrue(!aboutResponses || line.message().startsWith("Incident"),
                    "a 5xx line without its incident id: " + line);
        }
    }

    /** The incidents neither on a line of their own (the first of a burst) nor counted in their burst's summary. */
    private static List<String> uncovered(List<String> incidents, List<CapturedLogs.Line> lines) {
        List<CapturedLogs.Line> perRequest = lines.stream().filter(l -> FIRST.matcher(l.message()).find()).toList();
        Map<String, Integer> summarizedUpTo = new HashMap<>();
        for (CapturedLogs.Line line : lines) {
            Matcher summary = SUMMARY.matcher(line.message());
            if (summary.find()) {
                summarizedUpTo.merge(summary.group(1), Integer.parseInt(summary.group(2)), Math::max);
            }
        }
        List<String> missing = new ArrayList<>();
        for (String incident : incidents) {
            String burst = incident.substring(0, incident.lastIndexOf('-'));
            int n = Integer.parseInt(incident.substring(incident.lastIndexOf('-') + 1));
            boolean ownLine = n == 1 && perRequest.stream().anyMatch(l -> l.message().contains("Incident " + incident + ":"));
            boolean inSummary = n >= 2 && n <= summarizedUpTo.getOrDefault(burst, 0);
            if (!ownLine && !inSummary) {
                missing.add(incident);
            }
        }
        return missing;
    }

    private static String join(List<CapturedLogs.Line> lines) {
        StringBuilder text = new StringBuilder();
        lines.forEach(l -> text.append("  ").append(l).append('\n'));
        return text.toString();
    }
}
