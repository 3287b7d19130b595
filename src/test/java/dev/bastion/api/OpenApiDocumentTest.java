package dev.bastion.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.bastion.testing.Management;
import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

/**
 * The committed OpenAPI document (what /q/openapi serves) is the one quarkus-smallrye-openapi generates
 * from the code now (served at /q/openapi-generated in the tests only). When the API changes, this
 * test fails and writes the new document to target/, to be reviewed and copied over the committed one.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class OpenApiDocumentTest {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Test
    void headAnswersWithTheDocumentsHeaders() throws Exception {
        byte[] committed;
        try (InputStream in = OpenApiDocument.class.getClassLoader().getResourceAsStream(OpenApiDocument.RESOURCE)) {
            committed = in.readAllBytes();
        }
        Management.given().head("/q/openapi").then().statusCode(200).contentType("application/json")
                .header("Content-Length", String.valueOf(committed.length));
    }

    @Test
    void theServedDocumentIsTheOneTheCodeGenerates() throws Exception {
        JsonNode generated = JSON.readTree(Management.given().queryParam("format", "json").get("/q/openapi-generated")
                .then().statusCode(200).extract().asString());
        JsonNode served = JSON.readTree(Management.given().get("/q/openapi")
                .then().statusCode(200).contentType("application/json").extract().asString());
        // the tests' helper endpoints (src/test) must not be advertised by the service
        served.get("paths").fieldNames().forEachRemaining(path -> assertFalse(path.startsWith("/test-only"), path));
        if (!generated.equals(served)) {
            Path update = Path.of("target", "openapi", "bastion.json");
            Files.createDirectories(update.getParent());
            Files.writeString(update, JSON.writeValueAsString(generated) + "\n");
            assertEquals(JSON.writeValueAsString(generated), JSON.writeValueAsString(served),
                    "the API changed: review " + update + " and copy it to src/main/resources/" + OpenApiDocument.RESOURCE);
        }
    }

    /**
     * The document gives the answers the API gives (CustomerApiTest checks the API's own): a create is a 201
     * with Location, a delete a 204, and every customer operation may answer a 503 problem with Retry-After.
     */
    @Test
    void theDocumentGivesTheStatusesTheApiAnswers() throws Exception {
        JsonNode paths = JSON.readTree(Management.given().get("/q/openapi").then().statusCode(200).extract().asString()).get("paths");
        JsonNode create = paths.at("/~1customers/post/responses");
        assertTrue(create.has("201") && create.at("/201/headers").has("Location") && !create.has("200"), create.toString());
        JsonNode delete = paths.at("/~1customers~1{id}/delete/responses");
        assertTrue(delete.has("204") && !delete.has("200"), delete.toString());
        paths.fields().forEachRemaining(path -> {
            if (path.getKey().startsWith("/customers")) {
                path.getValue().fields().forEachRemaining(operation -> {
                    JsonNode unavailable = operation.getValue().at("/responses/503");
                    assertTrue(unavailable.at("/headers").has("Retry-After")
                            && unavailable.at("/content").has(Problem.MEDIA_TYPE), path.getKey() + " " + operation.getKey());
                });
            }
        });
    }
}
