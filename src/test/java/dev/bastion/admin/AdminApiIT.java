package dev.bastion.admin;

import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;

/** The admin API tests against the packaged artifact (JWT verification configured as in production). */
@QuarkusIntegrationTest
@WithTestResource(PostgresResource.class)
public class AdminApiIT extends AdminApiTest {
}
