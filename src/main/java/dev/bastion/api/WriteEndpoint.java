package dev.bastion.api;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import jakarta.ws.rs.NameBinding;

/**
 * Marks a resource method that writes to the database: its successful answer carries the writer's
 * WAL position when reads go to standbys ({@link WrittenPositionHeader}). Reads are not marked, so
 * Quarkus REST leaves the response filter out of their handler chain altogether (it ran, and returned
 * at once, on every read). {@code WriteEndpointTest} checks that every write method of the API is marked.
 */
@NameBinding
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface WriteEndpoint {
}
