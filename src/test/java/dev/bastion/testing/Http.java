package dev.bastion.testing;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.restassured.RestAssured;

/** Truly concurrent HTTP calls for race tests (rest-assured is sequential), and metric scraping. */
public final class Http {

    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Http() {
    }

    public static URI uri(String path) {
        return URI.create(RestAssured.baseURI + ":" + RestAssured.port + path);
    }

    public static HttpRequest.Builder postJson(String path, String body) {
        return HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    /** Sends {@code count} requests at once and waits for all of them. */
    public static List<HttpResponse<String>> concurrently(int count, Function<Integer, HttpRequest> request) {
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            futures.add(CLIENT.sendAsync(request.apply(i), HttpResponse.BodyHandlers.ofString()));
        }
        return futures.stream().map(CompletableFuture::join).toList();
    }

    public static HttpResponse<String> send(HttpRequest request) {
        return CLIENT.sendAsync(request, HttpResponse.BodyHandlers.ofString()).join();
    }

    /** Sum of a Prometheus series whose labels include all of {@code labels}; 0 when absent. */
    public static double metric(String name, Map<String, String> labels) {
        return metric(scrape(), name, labels);
    }

    /** The service's metrics now: several series read from one scrape are of one moment. */
    public static String scrape() {
        return Management.given().get("/q/metrics").asString();
    }

    /** As {@link #metric(String, Map)}, from a scrape already taken. */
    public static double metric(String scrape, String name, Map<String, String> labels) {
        double total = 0;
        // a series without labels has no braces at all
        Matcher line = Pattern.compile("(?m)^" + Pattern.quote(name) + "(?:\\{([^}]*)\\})? ([0-9.eE+-]+)$").matcher(scrape);
        while (line.find()) {
            String labelText = line.group(1) == null ? "" : line.group(1);
            boolean all = labels.entrySet().stream()
                    .allMatch(e -> labelText.contains(e.getKey() + "=\"" + e.getValue() + "\""));
            if (all) {
                total += Double.parseDouble(line.group(2));
            }
        }
        return total;
    }
}
