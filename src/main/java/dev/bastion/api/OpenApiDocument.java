package dev.bastion.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

import io.quarkus.vertx.http.ManagementInterface;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * {@code GET /q/openapi} (and HEAD) on the management port: the API's OpenAPI document, JSON only (which
 * YAML parsers read too; the extension's {@code ?format=yaml} and {@code /q/openapi.yaml} are gone),
 * as committed in {@code src/main/resources/openapi/bastion.json}. quarkus-smallrye-openapi generates
 * it from the code in the tests only, where OpenApiDocumentTest fails when the two differ: a change of
 * the API shows in review as a change of this file. The service only serves the file; the extension
 * parsed, filtered and re-serialised the document (JSON and YAML) at every start, about 90 ms of it,
 * and brought its model and YAML libraries into every pod.
 */
@ApplicationScoped
public class OpenApiDocument {

    /** The committed document, on the classpath (and in the native image's resources). */
    public static final String RESOURCE = "openapi/bastion.json";

    void serve(@Observes ManagementInterface management) {
        byte[] document = read(); // at start: a build without the document fails here, not on a request
        management.router().route("/q/openapi").method(HttpMethod.GET).method(HttpMethod.HEAD)
                .handler(request -> request.response()
                        .putHeader("Content-Type", "application/json")
                        // set here: for HEAD Vert.x sends no body and, unasked, no length either
                        .putHeader("Content-Length", String.valueOf(document.length))
                        .end(Buffer.buffer(document)));
    }

    private static byte[] read() {
        try (InputStream in = OpenApiDocument.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the build");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
