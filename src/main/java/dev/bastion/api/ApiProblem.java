package dev.bastion.api;

/**
 * An error the API reports as a problem document: thrown by the domain with everything the caller
 * needs to know, mapped to HTTP by {@link ProblemMappers}.
 */
public class ApiProblem extends RuntimeException {

    private final int status;
    private final String slug;
    private final String title;
    private final String field;
    private final String suggestion;
    private final Integer retryAfterSeconds;

    private ApiProblem(Builder b, Throwable cause) {
        super(b.detail, cause, false, false);
        this.status = b.status;
        this.slug = b.slug;
        this.title = b.title;
        this.field = b.field;
        this.suggestion = b.suggestion;
        this.retryAfterSeconds = b.retryAfterSeconds;
    }

    public static Builder status(int status, String slug, String title) {
        return new Builder(status, slug, title);
    }

    public int status() {
        return status;
    }

    public Integer retryAfterSeconds() {
        return retryAfterSeconds;
    }

    Problem toProblem(String instance) {
        return new Problem(Problem.type(slug), title, status, getMessage(), instance, slug, field, suggestion, null);
    }

    public static final class Builder {
        private final int status;
        private final String slug;
        private final String title;
        private String detail;
        private String field;
        private String suggestion;
        private Integer retryAfterSeconds;

        private Builder(int status, String slug, String title) {
            this.status = status;
            this.slug = slug;
            this.title = title;
        }

        public Builder detail(String detail) {
            this.detail = detail;
            return this;
        }

        public Builder field(String field) {
            this.field = field;
            return this;
        }

        public Builder suggestion(String suggestion) {
            this.suggestion = suggestion;
            return this;
        }

        public Builder retryAfter(int seconds) {
            this.retryAfterSeconds = seconds;
            return this;
        }

        public ApiProblem build() {
            return new ApiProblem(this, null);
        }

        public ApiProblem causedBy(Throwable cause) {
            return new ApiProblem(this, cause);
        }
    }
}
