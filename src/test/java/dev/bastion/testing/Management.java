package dev.bastion.testing;

import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;

/**
 * The management interface (health, metrics, OpenAPI) in tests: its own port, 9001 both for
 * {@code @QuarkusTest} (Quarkus's management test port) and for the packaged artifact of the
 * {@code *IT} suites (set by {@link PostgresResource}).
 */
public final class Management {

    public static final int PORT = 9001;

    private Management() {
    }

    public static RequestSpecification given() {
        return RestAssured.given().port(PORT);
    }
}
