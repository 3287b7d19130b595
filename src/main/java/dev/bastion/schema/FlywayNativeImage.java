package dev.bastion.schema;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * What the native image needs to run Flyway and the PostgreSQL JDBC driver as plain libraries (not
 * the quarkus-flyway extension, which would start Agroal and Narayana in every pod): the classes
 * they create by name. Flyway's plugins come through ServiceLoader, which native-image registers
 * from META-INF/services by itself; its version.txt is a resource (application.properties). The
 * migration scripts come from {@link ShippedMigrations}, never from classpath scanning.
 */
@RegisterForReflection(classNames = {
        // DriverDataSource creates the driver by name; the driver its SSL factories by name (sslmode)
        "org.postgresql.Driver",
        "org.postgresql.ssl.LibPQFactory",
        "org.postgresql.ssl.DefaultJavaSSLFactory",
        "org.postgresql.ssl.NonValidatingFactory",
        // Flyway's plugins, copied and configured through their bean properties
        "org.flywaydb.database.postgresql.PostgreSQLDatabaseType",
        "org.flywaydb.database.postgresql.PostgreSQLConfigurationExtension",
        "org.flywaydb.core.internal.resource.CoreResourceTypeProvider",
        "org.flywaydb.core.internal.schemahistory.BaseAppliedMigration",
        "org.flywaydb.core.internal.configuration.resolvers.EnvironmentVariableResolver",
        "org.flywaydb.core.internal.configuration.resolvers.EnvironmentProvisionerNone",
        "org.flywaydb.core.internal.configuration.resolvers.PlaceholderPropertyResolver",
        "org.flywaydb.core.internal.publishing.PublishingConfigurationExtension",
        "org.flywaydb.core.internal.NullFlywayTelemetryManager",
        "org.flywaydb.core.internal.jdbc.ErrorOverrideInitializerStub",
        "org.flywaydb.core.api.migration.baseline.BaselineMigrationConfigurationExtension",
        "org.flywaydb.core.api.migration.baseline.BaselineMigrationResolver",
        "org.flywaydb.core.api.migration.baseline.BaselineResourceTypeProvider",
        "org.flywaydb.core.api.migration.baseline.BaselineAppliedMigration"
}, methods = true, fields = true)
final class FlywayNativeImage {

    private FlywayNativeImage() {
    }
}
