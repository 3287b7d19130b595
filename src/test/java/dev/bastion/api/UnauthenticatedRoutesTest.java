package dev.bastion.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.vertx.http.runtime.security.HttpSecurityRecorder;
import io.quarkus.vertx.http.runtime.security.QuarkusHttpUser;
import io.vertx.ext.web.Router;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.junit.jupiter.api.Test;

/**
 * Quarkus REST's filter (priority 199) builds a request mapper of every resource on each request when
 * it finds Quarkus' default authentication-failure handler. A route of this test, at that filter's
 * order and added before it, records what it will find.
 */
@QuarkusTest
@WithTestResource(PostgresResource.class)
class UnauthenticatedRoutesTest {

    static final Map<String, Object> FOUND = new ConcurrentHashMap<>();

    @Singleton
    static class WhatQuarkusRestFinds {
        void record(@Observes Router router) { // fired before Quarkus adds its filters: same order, so first
            router.route().order(-199).handler(ctx -> {
                Object handler = ctx.get(QuarkusHttpUser.AUTH_FAILURE_HANDLER);
                FOUND.put(ctx.normalizedPath(), handler == null ? "none" : handler);
                ctx.next();
            });
        }
    }

    @Test
    void customerRoutesReachQuarkusRestWithTheirOwnFailureHandler() {
        given().get("/customers/987654321").then().statusCode(404);
        given().get("/customers?limit=1").then().statusCode(200);
        assertSame(UnauthenticatedRoutes.FAIL, FOUND.get("/customers/987654321"));
        assertSame(UnauthenticatedRoutes.FAIL, FOUND.get("/customers"));
    }

    @Test
    void otherRoutesKeepQuarkusDefault() {
        given().get("/admin/database/health").then().statusCode(401); // the admin API still authenticates
        Object found = FOUND.get("/admin/database/health");
        assertNotNull(found);
        assertTrue(found instanceof HttpSecurityRecorder.DefaultAuthFailureHandler, found.toString());
    }
}
