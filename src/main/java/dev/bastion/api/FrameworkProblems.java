package dev.bastion.api;

import jakarta.ws.rs.core.Response;

/**
 * The problem documents for errors HTTP itself defines (unknown path, method, media type, size), the
 * same whether RESTEasy or the HTTP layer below it detects them.
 */
final class FrameworkProblems {

    private FrameworkProblems() {
    }

    static Problem problem(int status, String instance) {
        Response.Status known = Response.Status.fromStatusCode(status);
        String title = known == null ? "HTTP " + status : known.getReasonPhrase();
        String detail = switch (status) {
            case 404 -> "No resource at this path.";
            case 405 -> "This method is not allowed on this resource.";
            case 406 -> "The requested representation is not available; accept application/json.";
            case 413 -> "The request body is too large.";
            case 415 -> "Send the body as application/json.";
            default -> title + ".";
        };
        String suggestion = switch (status) {
            case 404, 405 -> "Check the method and path against the API documentation.";
            case 406 -> "Send Accept: application/json (or omit Accept).";
            case 413 -> "Send a smaller body; large imports go in batches of at most 100 customers.";
            case 415 -> "Send Content-Type: application/json.";
            default -> null;
        };
        return new Problem(Problem.type("http-" + status), title, status, detail, instance, "http-" + status,
                null, suggestion, null);
    }
}
