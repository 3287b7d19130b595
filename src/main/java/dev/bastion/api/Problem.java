package dev.bastion.api;

import io.quarkus.runtime.annotations.RegisterForReflection;

import java.net.URI;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * An RFC 9457 problem document, with Bastion's extension members: the failure {@code kind}, the
 * offending {@code field}, a {@code suggestion} for the caller and, for validation, one entry per
 * invalid field. Never carries SQL, stack traces or internal constraint names.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@RegisterForReflection // serialised to JSON inside a generic or untyped response
public record Problem(URI type, String title, int status, String detail, String instance, String kind,
                      String field, String suggestion, List<FieldError> errors) {

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
