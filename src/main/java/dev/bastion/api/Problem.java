package dev.bastion.api;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.net.URI;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * An RFC 9457 problem document, with Bastion's extension members: the failure {@code kind}, the
 * offending {@code field}, a {@code suggestion} for the caller and, for validation, one entry per
 * invalid field; for server-side failures (5xx) the {@code incident} id that the log line carries.
 * Never carries SQL, stack traces or internal constraint names.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@RegisterForReflection // serialised to JSON inside a generic or untyped response
public record Problem(URI type, String title, int status, String detail, String instance, String kind,
                      String field, String suggestion, List<FieldError> errors, String incident) {

    /** A problem without an incident id: the caller's own mistake, nothing for operators to look up. */
    public Problem(URI type, String title, int status, String detail, String instance, String kind,
                   String field, String suggestion, List<FieldError> errors) {
        this(type, title, status, detail, instance, kind, field, suggestion, errors, null);
    }

    /** The same problem with the incident id that the server's log line carries. */
    public Problem withIncident(String incidentId) {
        return new Problem(type, title, status, detail, instance, kind, field, suggestion, errors, incidentId);
    }

    public static final String MEDIA_TYPE = "application/problem+json";
    private static final String TYPE_BASE = "https://bastion.dev/problems/";

    public static URI type(String slug) {
        return URI.create(TYPE_BASE + slug);
    }

    /** One invalid input field. */
    @RegisterForReflection // serialised to JSON inside a generic or untyped response
    public record FieldError(String field, String message) {
    }
}
