package dev.bastion.api;

import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import dev.bastion.api.ConstraintDescriptions.ConstraintDescription;
import dev.bastion.database.DatabaseException;
import dev.bastion.database.DatabaseSettings;
import dev.bastion.database.FailureKind;
import dev.bastion.database.RefusedAttemptException;
import dev.bastion.database.TransactionListeners;
import io.quarkus.security.AuthenticationFailedException;
import io.smallrye.mutiny.Uni;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import jakarta.enterprise.inject.Instance;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.validation.ElementKind;
import jakarta.validation.Path;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * Every error leaves the service as application/problem+json. Bad input is 400 (unreadable) or 422
 * (readable but invalid); database failures take their status from {@link FailureKind}; anything
 * unexpected is a 500 whose body names only an incident id that is also in the log.
 */
public class ProblemMappers {

    private final Instance<ConstraintDescriptions> constraintDescriptions;
    private final DatabaseSettings guardrails;
    private final IncidentLog incidents;
    private final RefusalHold refusalHold;
    private final TransactionListeners breaker;

    public ProblemMappers(Instance<ConstraintDescriptions> constraintDescriptions, DatabaseSettings guardrails,
                          IncidentLog incidents, RefusalHold refusalHold, TransactionListeners breaker) {
        this.constraintDescriptions = constraintDescriptions;
        this.guardrails = guardrails;
        this.incidents = incidents;
        this.refusalHold = refusalHold;
        this.breaker = breaker;
    }

    @ServerExceptionMapper
    public Response apiProblem(ApiProblem problem, UriInfo uri) {
        Problem body = problem.toProblem(uri.getPath());
        if (problem.status() >= 500) {
            body = body.withIncident(incidents.failure(problem.status(), body.kind(), uri.getPath(), problem.getMessage(),
                    problem.getCause()));
        }
        return respond(body, problem.retryAfterSeconds());
    }

    @ServerExceptionMapper
    public Response database(DatabaseException error, UriInfo uri) {
        FailureKind kind = error.kind();
        Optional<ConstraintDescription> described = describe(error.failure().constraint());
        String detail = described.map(ConstraintDescription::detail).orElse(genericDetail(kind));
        String suggestion = described.map(ConstraintDescription::suggestion).orElse(kind.advice());
        String field = described.map(ConstraintDescription::field).orElse(null);
        String incident = null;
        FailureKind lastOutage = breaker.lastOutage();
        if (kind == FailureKind.OTHER) {
            incident = incidents.unexpected(uri.getPath(), "unclassified database failure in " + error.operation()
                    + " (SQLSTATE " + error.failure().sqlState() + ")", error);
            detail = "Unexpected database error (incident " + incident + ").";
        } else if (kind == FailureKind.CIRCUIT_OPEN && lastOutage != null) {
            detail = "The service stopped calling the database for a moment after repeated failures; the last: "
                    + lastOutage.title() + " (" + lastOutage.problemSlug() + ").";
            incident = incidents.failure(kind.httpStatus(), kind.problemSlug(), uri.getPath(), "in " + error.operation()
                    + " after " + lastOutage.problemSlug(), null);
        } else if (kind == FailureKind.PERMISSION_DENIED || kind == FailureKind.DATABASE_RESOURCES) {
            // the operators' next step depends on which privilege or resource is missing: PostgreSQL's message names
            // it (never SQL) in the log line, never in the body
            incident = incidents.failure(kind.httpStatus(), kind.problemSlug(), uri.getPath(), "in " + error.operation()
                    + ": SQLSTATE " + error.failure().sqlState() + ": " + serverMessage(error), null);
        } else if (kind.httpStatus() >= 500) {
            incident = incidents.failure(kind.httpStatus(), kind.problemSlug(), uri.getPath(), "in " + error.operation(), null);
        }
        Problem problem = new Problem(Problem.type(kind.problemSlug()), kind.title(), kind.httpStatus(), detail,
                uri.getPath(), kind.problemSlug(), field, suggestion, null, incident);
        return respond(problem, kind.httpStatus() == 503 ? retryAfter(error) : null);
    }

    private static String serverMessage(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof io.vertx.pgclient.PgException pg) {
                return pg.getErrorMessage();
            }
            if (cause instanceof java.sql.SQLException sql) {
                return sql.getMessage();
            }
        }
        return "(no message)";
    }

    /** A refusal before any work: during a storm of them, answered after a hold ({@link RefusalHold}). */
    @ServerExceptionMapper
    public Uni<Response> refused(RefusedAttemptException error, UriInfo uri) {
        return refusalHold.answer(database(error, uri), error.waitedMillis(), error.requestLeftMillis());
    }

    @ServerExceptionMapper
    public Response validation(ConstraintViolationException error, UriInfo uri) {
        List<Problem.FieldError> errors = error.getConstraintViolations().stream()
                .map(v -> new Problem.FieldError(fieldOf(v), v.getMessage()))
                .sorted(Comparator.comparing(Problem.FieldError::field))
                .toList();
        boolean body = error.getConstraintViolations().stream().anyMatch(ProblemMappers::isBodyViolation);
        int status = body ? 422 : 400;
        String detail = errors.stream().map(e -> e.field() + ": " + e.message()).reduce((a, b) -> a + "; " + b).orElse("");
        Problem problem = new Problem(Problem.type("validation"), body ? "Invalid request body" : "Invalid request parameter",
                status, detail, uri.getPath(), "validation", errors.isEmpty() ? null : errors.get(0).field(),
                "Correct the listed fields and send the request again.", errors);
        return respond(problem, null);
    }

    // Listed one by one: quarkus-rest-jackson maps some of these subclasses itself, and the most
    // specific mapper wins, so a mapper for JsonProcessingException alone would not be used for them.
    @ServerExceptionMapper({JsonProcessingException.class, JsonParseException.class, JsonMappingException.class,
            MismatchedInputException.class, InvalidFormatException.class, UnrecognizedPropertyException.class,
            ValueInstantiationException.class})
    public Response unreadableJson(JsonProcessingException error, UriInfo uri) {
        String field = error instanceof JsonMappingException mapping ? pathOf(mapping) : null;
        String detail;
        if (error instanceof JsonParseException) {
            detail = "The request body is not valid JSON (line " + error.getLocation().getLineNr() + ", column "
                    + error.getLocation().getColumnNr() + ").";
            field = null;
        } else if (error instanceof UnrecognizedPropertyException) {
            detail = "Unknown field '" + field + "'.";
        } else if (error instanceof InvalidFormatException invalid) {
            detail = "Field '" + field + "' has a value of the wrong type or format; expected "
                    + describeType(invalid.getTargetType()) + ".";
        } else if (error instanceof MismatchedInputException mismatched) {
            detail = field == null || field.isEmpty()
                    ? "The request body must be a JSON object."
                    : "Field '" + field + "' has a value of the wrong type; expected " + describeType(mismatched.getTargetType()) + ".";
        } else {
            detail = "The request body could not be read.";
        }
        Problem problem = new Problem(Problem.type("malformed-request"), "Malformed request body", 400, detail,
                uri.getPath(), "malformed-request", field == null || field.isEmpty() ? null : field,
                "Send a JSON object whose fields match the API documentation (the OpenAPI document).", null);
        return respond(problem, null);
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException error, UriInfo uri) {
        Throwable cause = error.getCause();
        if (cause instanceof JsonProcessingException json) {
            return unreadableJson(json, uri);
        }
        return respond(FrameworkProblems.problem(error.getResponse().getStatus(), uri.getPath()), null);
    }

    /** No token, or one that failed verification (signature, issuer, audience, expiry): 401 with the challenge. */
    @ServerExceptionMapper({UnauthorizedException.class, AuthenticationFailedException.class})
    public Response unauthenticated(RuntimeException error, UriInfo uri) {
        Problem problem = new Problem(Problem.type("unauthorized"), "Unauthorized", 401,
                "A valid bearer token is required.", uri.getPath(), "unauthorized", "Authorization",
                "Send Authorization: Bearer <token> with a token your identity provider issued for this service.", null);
        return Response.fromResponse(respond(problem, null)).header(HttpHeaders.WWW_AUTHENTICATE, "Bearer").build();
    }

    @ServerExceptionMapper
    public Response forbidden(ForbiddenException error, UriInfo uri) {
        Problem problem = new Problem(Problem.type("forbidden"), "Forbidden", 403,
                "The token is valid but lacks the role this resource requires.", uri.getPath(), "forbidden", null,
                "Ask for a token whose groups claim contains the required role (admin).", null);
        return respond(problem, null);
    }

    /**
     * Anything else, checked exceptions included: an IOException nobody mapped would otherwise reach
     * Quarkus' own error page, which is not problem+json and can name the failing host in its details.
     */
    @ServerExceptionMapper
    public Response unexpected(Exception error, UriInfo uri) {
        String incident = incidents.unexpected(uri.getPath(), "unexpected " + error.getClass().getSimpleName(), error);
        Problem problem = new Problem(Problem.type("internal-error"), "Internal error", 500,
                "Unexpected error (incident " + incident + ").", uri.getPath(), "internal-error", null,
                "Retry later; if it persists, report the incident id.", null, incident);
        return respond(problem, null);
    }

    private static Response respond(Problem problem, Integer retryAfterSeconds) {
        Response.ResponseBuilder response = Response.status(problem.status()).type(Problem.MEDIA_TYPE).entity(problem);
        if (retryAfterSeconds != null) {
            response.header(HttpHeaders.RETRY_AFTER, retryAfterSeconds);
        }
        return response.build();
    }

    /**
     * When a refused caller should come back. A gate that refused it before it took a connection knows
     * the waiting it saw; otherwise the kind decides the scale (an outage or a read-only database lasts
     * about a breaker delay, contention and deadlines about a second). Randomised up to twice the scale,
     * so that callers refused together do not all come back together.
     */
    private int retryAfter(DatabaseException error) {
        long millis;
        if (error instanceof RefusedAttemptException refused) {
            millis = refused.retryAfterMillis();
        } else {
            long scale = switch (error.kind()) {
                case CIRCUIT_OPEN, CONNECTION, READ_ONLY_NODE -> Math.max(1000, guardrails.breakerDelay().toMillis());
                default -> 1000;
            };
            millis = error.kind() == FailureKind.CIRCUIT_OPEN ? scale // the breaker lets a trial through after exactly this
                    : scale + ThreadLocalRandom.current().nextLong(scale + 1);
        }
        return (int) Math.max(1, Math.min(3600, (millis + 999) / 1000));
    }

    private Optional<ConstraintDescription> describe(String constraint) {
        if (constraint == null) {
            return Optional.empty();
        }
        for (ConstraintDescriptions descriptions : constraintDescriptions) {
            Optional<ConstraintDescription> found = descriptions.describe(constraint);
            if (found.isPresent()) {
                return found;
            }
        }
        return Optional.empty();
    }

    private static String genericDetail(FailureKind kind) {
        return switch (kind) {
            case UNIQUE_VIOLATION -> "A record with the same unique value already exists.";
            case FOREIGN_KEY_VIOLATION -> "The request conflicts with a related record.";
            case NOT_NULL_VIOLATION -> "A required value is missing.";
            case CHECK_VIOLATION -> "A value is outside what is allowed.";
            default -> kind.title() + ".";
        };
    }

    private static boolean isBodyViolation(ConstraintViolation<?> violation) {
        for (Path.Node node : violation.getPropertyPath()) {
            if (node.getKind() == ElementKind.PROPERTY) {
                return true;
            }
        }
        return false;
    }

    /** Java names in violation paths that callers know by another name. */
    private static final Map<String, String> API_NAMES = Map.of(
            "idempotencyKey", "Idempotency-Key",
            "request", "body",
            "betweenTwoCustomers", "to");

    /** The field as the caller wrote it: {@code customers[3].email}, {@code size}, {@code Idempotency-Key}. */
    private static String fieldOf(ConstraintViolation<?> violation) {
        String parameter = null;
        StringBuilder property = new StringBuilder();
        for (Path.Node node : violation.getPropertyPath()) {
            if (node.getKind() == ElementKind.PARAMETER) {
                parameter = node.getName();
            } else if (node.getKind() == ElementKind.PROPERTY) {
                if (node.isInIterable() && node.getIndex() != null) {
                    property.append('[').append(node.getIndex()).append(']');
                }
                if (!property.isEmpty()) {
                    property.append('.');
                }
                property.append(API_NAMES.getOrDefault(node.getName(), node.getName()));
            }
        }
        if (!property.isEmpty()) {
            return property.toString();
        }
        return parameter == null ? null : API_NAMES.getOrDefault(parameter, parameter);
    }

    private static String pathOf(JsonMappingException error) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference ref : error.getPath()) {
            if (ref.getFieldName() != null) {
                if (!path.isEmpty()) {
                    path.append('.');
                }
                path.append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                path.append('[').append(ref.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    private static String describeType(Class<?> type) {
        if (type == null) {
            return "another type";
        }
        if (type.isEnum()) {
            Object[] constants = type.getEnumConstants();
            StringBuilder values = new StringBuilder("one of ");
            for (int i = 0; i < constants.length; i++) {
                values.append(i == 0 ? "" : ", ").append(constants[i]);
            }
            return values.toString();
        }
        if (Number.class.isAssignableFrom(type) || type.isPrimitive() && type != boolean.class) {
            return "a number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type == String.class) {
            return "a string";
        }
        return "a JSON " + (java.util.Collection.class.isAssignableFrom(type) ? "array" : "object");
    }
}
