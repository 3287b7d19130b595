package dev.bastion.api;

import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;

/** The framework's errors as problem+json from the packaged artifact. */
@QuarkusIntegrationTest
@WithTestResource(PostgresResource.class)
public class ProblemResponsesIT extends ProblemResponsesTest {
}
