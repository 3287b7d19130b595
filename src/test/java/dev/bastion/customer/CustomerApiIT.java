package dev.bastion.customer;

import dev.bastion.testing.PostgresResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusIntegrationTest;

/** The same API tests against the packaged artifact: the JVM jar here, the native binary with -Dnative. */
@QuarkusIntegrationTest
@WithTestResource(PostgresResource.class)
public class CustomerApiIT extends CustomerApiTest {
}
