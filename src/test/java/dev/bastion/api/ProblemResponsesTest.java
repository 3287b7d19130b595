package dev.bastion.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

import dev.bastion.testing.Http;
import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import org.junit.jupiter.api.Test;

/** Errors the framework produces before any resource method runs are problem+json too. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
public class ProblemResponsesTest {

    private static final HttpClient HTTP_1_1 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    static ValidatableResponse assertFrameworkProblem(ValidatableResponse response, int status) {
        return response.statusCode(status)
                .contentType(startsWith(Problem.MEDIA_TYPE))
                .body("status", equalTo(status))
                .body("kind", equalTo("http-" + status))
                .body("type", equalTo("https://bastion.dev/problems/http-" + status))
                .body("title", not(equalTo("")))
                .body("detail", not(equalTo("")));
    }

    @Test
    void unknownPathIs404() {
        assertFrameworkProblem(given().get("/nothing-here").then(), 404).body("instance", equalTo("/nothing-here"));
        assertFrameworkProblem(given().contentType(ContentType.JSON).body("{}").post("/no/such/thing").then(), 404);
    }

    @Test
    void managementPathsOnTheApiPortAre404() {
        for (String path : new String[] {"/q/health/ready", "/q/health/live", "/q/metrics", "/q/openapi", "/q/health"}) {
            assertFrameworkProblem(given().get(path).then(), 404).body(not(containsString("UP")));
        }
    }

    @Test
    void unknownMethodIs405() {
        assertFrameworkProblem(given().contentType(ContentType.JSON).body("{}").patch("/customers/1").then(), 405);
    }

    @Test
    void unavailableRepresentationIs406() {
        assertFrameworkProblem(given().accept("application/xml").get("/customers/1").then(), 406);
    }

    @Test
    void wrongContentTypeIs415() {
        assertFrameworkProblem(given().contentType("text/plain").body("name=Ada").post("/customers").then(), 415);
    }

    @Test
    void bodyTooLargeIs413() {
        String megabyte = "{\"name\":\"" + "x".repeat(1024 * 1024) + "\",\"email\":\"big@example.org\"}";
        assertFrameworkProblem(given().contentType(ContentType.JSON).body(megabyte).post("/customers").then(), 413);
        given().get("/customers?email=big@example.org").then().statusCode(200).body("items.size()", equalTo(0));
    }

    /** No Content-Length: the size is only known while the body streams in. */
    private static HttpResponse<String> postChunked(String body) {
        return HTTP_1_1.sendAsync(HttpRequest.newBuilder(Http.uri("/customers"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(
                        () -> new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8))))
                .build(), HttpResponse.BodyHandlers.ofString()).join();
    }

    @Test
    void chunkedBodyTooLargeIs413() {
        String small = "{\"name\":\"Streamed\",\"email\":\"streamed-" + System.nanoTime() + "@example.org\"}";
        assertEquals(201, postChunked(small).statusCode(), "a streamed body within the limit is read as usual");

        String megabyte = "{\"name\":\"" + "x".repeat(1024 * 1024) + "\",\"email\":\"chunked@example.org\"}";
        HttpResponse<String> response = postChunked(megabyte);
        assertEquals(413, response.statusCode(), response.body());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith(Problem.MEDIA_TYPE),
                response.headers().toString());
        assertTrue(response.body().contains("\"kind\":\"http-413\""), response.body());
        given().get("/customers?email=chunked@example.org").then().statusCode(200).body("items.size()", equalTo(0));
    }
}
