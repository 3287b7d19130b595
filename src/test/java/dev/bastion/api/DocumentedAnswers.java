package dev.bastion.api;

import java.util.Map;

import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.Operation;
import org.eclipse.microprofile.openapi.models.PathItem;
import org.eclipse.microprofile.openapi.models.media.Content;
import org.eclipse.microprofile.openapi.models.media.Schema;
import org.eclipse.microprofile.openapi.models.responses.APIResponse;
import org.eclipse.microprofile.openapi.models.responses.APIResponses;

/**
 * What the customer API answers besides a plain 200, which the generated document cannot see: the
 * resources build their responses (201 with Location, 204), and every failure leaves as a problem
 * (exception mappers, {@link Problem}). The statuses and their meaning follow the code and
 * docs/failure-model.md; the admin API's 401 and 403 are the generator's own.
 */
final class DocumentedAnswers {

    private static final String PROBLEM_SCHEMA = "Problem";

    private DocumentedAnswers() {
    }

    static void addTo(OpenAPI api) {
        if (api.getComponents() == null) {
            api.setComponents(OASFactory.createComponents());
        }
        api.getComponents().addSchema(PROBLEM_SCHEMA, problemSchema());
        for (Map.Entry<String, PathItem> path : api.getPaths().getPathItems().entrySet()) {
            if (path.getKey().startsWith("/customers")) {
                path.getValue().getOperations().forEach((method, operation) -> document(path.getKey(), method, operation));
            }
        }
    }

    private static void document(String path, PathItem.HttpMethod method, Operation operation) {
        APIResponses responses = operation.getResponses();
        boolean write = method != PathItem.HttpMethod.GET;
        boolean body = method == PathItem.HttpMethod.POST || method == PathItem.HttpMethod.PUT;
        if (method == PathItem.HttpMethod.POST && (path.equals("/customers") || path.endsWith("/notes"))) {
            APIResponse created = responses.getAPIResponse("200") != null ? responses.getAPIResponse("200")
                    : OASFactory.createAPIResponse();
            responses.removeAPIResponse("200");
            created.setDescription("Created; Location names it. A repeat with the same Idempotency-Key gets this first answer again");
            created.addHeader("Location", OASFactory.createHeader().description("The new resource")
                    .schema(OASFactory.createSchema().addType(Schema.SchemaType.STRING)));
            responses.addAPIResponse("201", created);
        }
        if (method == PathItem.HttpMethod.DELETE) {
            responses.removeAPIResponse("200");
            responses.addAPIResponse("204", OASFactory.createAPIResponse().description("Deleted"));
        }
        problem(responses, "400", "Invalid input: `field` (or `errors`, one per field) names it");
        if (path.contains("{") || path.endsWith("/transfers")) {
            problem(responses, "404", "No such customer (or note): `kind` says which");
        }
        if (write && !path.contains("/notes")) { // notes have no unique values, versions or keys
            problem(responses, "409", "Conflict: an email already taken, a version that moved on, a customer with dependent "
                    + "records, or the same Idempotency-Key still in progress");
        }
        if (body) {
            problem(responses, "413", "The body is larger than HTTP_MAX_BODY_SIZE");
            problem(responses, "415", "Send Content-Type: application/json");
            problem(responses, "422", "A value the rules refuse: not enough credit, a closed customer, too many notes, "
                    + "or an Idempotency-Key reused with another request");
        }
        if (write) {
            problem(responses, "500", "commit-outcome-unknown: the write may or may not have been saved; repeat it with "
                    + "the same Idempotency-Key to find out");
        }
        problem(responses, "503", "The database cannot serve it now (`kind`: database-unavailable, pool-exhausted, "
                + "circuit-open, lock-not-available, ...): nothing was saved; come back after Retry-After")
                .addHeader("Retry-After", OASFactory.createHeader().description("Seconds to wait before trying again")
                        .schema(OASFactory.createSchema().addType(Schema.SchemaType.INTEGER)));
        problem(responses, "504", "A statement ran past a database-side limit (statement-timeout, transaction-timeout): "
                + "nothing was saved");
    }

    private static APIResponse problem(APIResponses responses, String status, String description) {
        Content content = OASFactory.createContent().addMediaType(Problem.MEDIA_TYPE, OASFactory.createMediaType()
                .schema(OASFactory.createSchema().ref(PROBLEM_SCHEMA)));
        APIResponse response = OASFactory.createAPIResponse().description(description).content(content);
        responses.addAPIResponse(status, response);
        return response;
    }

    /** {@link Problem}'s fields (RFC 9457 and Bastion's own). */
    private static Schema problemSchema() {
        Schema string = OASFactory.createSchema().addType(Schema.SchemaType.STRING);
        Schema fieldError = OASFactory.createSchema().addType(Schema.SchemaType.OBJECT)
                .addProperty("field", string).addProperty("message", string);
        return OASFactory.createSchema().addType(Schema.SchemaType.OBJECT)
                .description("RFC 9457 problem details; never SQL or stack traces")
                .addProperty("type", OASFactory.createSchema().addType(Schema.SchemaType.STRING).format("uri"))
                .addProperty("title", string)
                .addProperty("status", OASFactory.createSchema().addType(Schema.SchemaType.INTEGER))
                .addProperty("detail", string)
                .addProperty("instance", string)
                .addProperty("kind", OASFactory.createSchema().addType(Schema.SchemaType.STRING)
                        .description("Stable slug: docs/failure-model.md lists each with what to do"))
                .addProperty("field", OASFactory.createSchema().addType(Schema.SchemaType.STRING).description("The offending input"))
                .addProperty("suggestion", OASFactory.createSchema().addType(Schema.SchemaType.STRING).description("What to do"))
                .addProperty("errors", OASFactory.createSchema().addType(Schema.SchemaType.ARRAY).items(fieldError))
                .addProperty("incident", OASFactory.createSchema().addType(Schema.SchemaType.STRING)
                        .description("5xx only: the id the service's log line carries"))
                .required(java.util.List.of("type", "title", "status"));
    }
}
