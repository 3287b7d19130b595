package dev.bastion.delivery;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

import dev.bastion.api.OpenApiDocument;

import org.junit.jupiter.api.Test;

/**
 * Checks what native-image would be given, where no GraalVM toolchain exists to build the binary:
 * every JSON type is registered for reflection and every migration is a native resource. It reads
 * the output of {@code ./mvnw package -Dnative -Dquarkus.native.sources-only=true}, so it runs only
 * when asked with {@code -Dnative.sources.check=true} right after that build (as .ci/run does);
 * otherwise stale native sources from an older build would be judged.
 */
class NativeImageConfigTest {

    private static final Path SOURCES = Path.of("target/native-sources");
    private static final List<String> JSON_PACKAGES = List.of("customer", "note", "transfer", "api", "admin", "database/monitor");
    /**
     * Records of those packages that never travel as JSON, so registering them would be dead
     * configuration: a list request's parameters on their way to the service, a create request's
     * normalised values on their way to the database, the description whose parts a problem or a
     * rejected import row carries, and the keys under which meters are bound.
     */
    private static final List<String> NEVER_SERIALISED = List.of("dev.bastion.customer.CustomerPage",
            "dev.bastion.customer.NewCustomer", "dev.bastion.api.ConstraintDescriptions$ConstraintDescription",
            "dev.bastion.database.monitor.DatabaseMeters$Series",
            "dev.bastion.database.monitor.DatabaseMeters$OperationOutcome");

    @Test
    void everyJsonTypeIsRegisteredForReflectionAndEveryMigrationIsAResource() throws Exception {
        assumeTrue(Boolean.getBoolean("native.sources.check"),
                "runs after ./mvnw package -Dnative -Dquarkus.native.sources-only=true, with -Dnative.sources.check=true");
        assertTrue(Files.exists(SOURCES.resolve("native-image.args")), "the native sources were generated");
        Path runner;
        try (Stream<Path> files = Files.list(SOURCES)) {
            runner = files.filter(p -> p.toString().endsWith("-runner.jar")).findFirst().orElseThrow();
        }
        String reflection;
        String resources;
        try (ZipFile jar = new ZipFile(runner.toFile())) {
            reflection = new String(jar.getInputStream(jar.getEntry("META-INF/native-image/reflect-config.json")).readAllBytes(),
                    StandardCharsets.UTF_8);
            resources = new String(jar.getInputStream(jar.getEntry("META-INF/native-image/resource-config.json")).readAllBytes(),
                    StandardCharsets.UTF_8);
        }

        List<String> jsonTypes = jsonTypes();
        assertTrue(jsonTypes.size() > 15, "found the JSON types: " + jsonTypes);
        for (String type : jsonTypes) {
            assertTrue(reflection.contains("\"" + type + "\""), type + " is not registered for reflection");
        }
        for (String type : NEVER_SERIALISED) {
            assertFalse(reflection.contains("\"" + type + "\""), type + " is never serialised, yet registered for reflection");
        }
        List<Pattern> included = includedResources(resources);
        List<String> shipped = new ArrayList<>(List.of(OpenApiDocument.RESOURCE, "org/flywaydb/core/internal/version.txt"));
        try (Stream<Path> migrations = Files.list(Path.of("src/main/resources/db/migration"))) {
            migrations.forEach(migration -> shipped.add("db/migration/" + migration.getFileName()));
        }
        for (String resource : shipped) {
            assertTrue(included.stream().anyMatch(p -> p.matcher(resource).matches()),
                    resource + " is not in the native resource config " + included);
        }
        // Flyway and the JDBC driver as plain libraries: what they create by name (schema/FlywayNativeImage)
        for (String type : List.of("org.postgresql.Driver", "org.postgresql.ssl.LibPQFactory",
                "org.flywaydb.database.postgresql.PostgreSQLDatabaseType", "org.flywaydb.database.postgresql.PostgreSQLConfigurationExtension")) {
            assertTrue(reflection.contains("\"" + type + "\""), type + " is not registered for reflection");
        }
        String args = Files.readString(SOURCES.resolve("native-image.args"));
        assertTrue(args.contains("--features="), "native-image.args is Quarkus' generated argument file");
    }

    /**
     * The resource-config.json includes as regular expressions: Quarkus writes them as {@code pattern}
     * (a regular expression) or, with newer GraalVM, as {@code glob}.
     */
    private static List<Pattern> includedResources(String resourceConfig) {
        List<Pattern> included = new ArrayList<>();
        Matcher entries = Pattern.compile("\"(pattern|glob)\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(resourceConfig);
        while (entries.find()) {
            String value = entries.group(2).replace("\\\\", "\\");
            included.add(entries.group(1).equals("pattern") ? Pattern.compile(value)
                    : Pattern.compile(Pattern.quote(value).replace("**", "\u0000").replace("*", "\\E[^/]*\\Q").replace("\u0000", "\\E.*\\Q")));
        }
        return included;
    }

    /** Every record, and every top-level enum, in the packages whose types travel as JSON, but those never serialised. */
    private static List<String> jsonTypes() throws IOException, ClassNotFoundException {
        List<String> types = new ArrayList<>();
        for (String pkg : JSON_PACKAGES) {
            Path dir = Path.of("target/classes/dev/bastion").resolve(pkg);
            try (Stream<Path> classes = Files.list(dir)) {
                for (Path file : classes.filter(p -> p.toString().endsWith(".class")).toList()) {
                    String name = "dev.bastion." + pkg.replace('/', '.') + "."
                            + file.getFileName().toString().replace(".class", "");
                    Class<?> type = Class.forName(name, false, NativeImageConfigTest.class.getClassLoader());
                    if ((type.isRecord() || type.isEnum() && !type.isMemberClass()) && !NEVER_SERIALISED.contains(name)) {
                        types.add(name);
                    }
                }
            }
        }
        return types;
    }
}
