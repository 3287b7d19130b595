package dev.bastion.schema;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

import org.flywaydb.core.api.ResourceProvider;
import org.flywaydb.core.api.resource.LoadableResource;

/**
 * The migration files Flyway runs, read from the classpath in the order of each directory's
 * {@code index.txt}, rather than by Flyway's classpath scanning: a native image cannot list a
 * classpath directory, and the scripts keep the names the history already holds
 * ({@code db/migration/V1__customer.sql}, as Flyway under Quarkus and this service's earlier
 * migrator wrote them). {@code ShippedMigrationsTest} fails the build when an index and its
 * directory disagree.
 */
public final class ShippedMigrations implements ResourceProvider {

    /** The directory of the migrations this build ships. */
    public static final String DIRECTORY = "db/migration/";
    public static final String INDEX = "index.txt";

    private final List<String> directories;

    /** The shipped migrations, and (tests) those of further directories, each with its index. */
    ShippedMigrations(String... moreDirectories) {
        List<String> all = new ArrayList<>();
        all.add(DIRECTORY);
        all.addAll(Arrays.asList(moreDirectories));
        this.directories = List.copyOf(all);
    }

    /** The file names of one directory's index, in its order. */
    static List<String> files(String directory) {
        List<String> files = new ArrayList<>();
        for (String line : read(directory + INDEX).split("\n")) {
            String file = line.strip();
            if (!file.isEmpty() && !file.startsWith("#")) {
                files.add(file);
            }
        }
        return files;
    }

    /** The newest version this build ships (V5__x.sql: 5): the schema a serving pod needs. */
    public static int latestVersion() {
        return files(DIRECTORY).stream()
                .mapToInt(name -> Integer.parseInt(name.substring(1, name.indexOf("__"))))
                .max().orElse(0);
    }

    @Override
    public LoadableResource getResource(String name) {
        for (String directory : directories) {
            String path = name.startsWith(directory) ? name : directory + name;
            if (files(directory).contains(path.substring(directory.length()))) {
                return new Script(path);
            }
        }
        return null; // e.g. a per-script .conf file: none ships
    }

    @Override
    public Collection<LoadableResource> getResources(String prefix, String[] suffixes) {
        List<LoadableResource> found = new ArrayList<>();
        for (String directory : directories) {
            for (String file : files(directory)) {
                if (file.startsWith(prefix) && Arrays.stream(suffixes).anyMatch(file::endsWith)) {
                    found.add(new Script(directory + file));
                }
            }
        }
        return found;
    }

    private static String read(String resource) {
        try (InputStream in = Thread.currentThread().getContextClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing from the build: " + resource);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One script; Flyway records {@link #getRelativePath()} as its {@code script}. */
    private static final class Script extends LoadableResource {
        private final String path;

        Script(String path) {
            this.path = path;
        }

        @Override
        public Reader read() {
            return new StringReader(ShippedMigrations.read(path));
        }

        @Override
        public String getAbsolutePath() {
            return path;
        }

        @Override
        public String getAbsolutePathOnDisk() {
            return path;
        }

        @Override
        public String getFilename() {
            return path.substring(path.lastIndexOf('/') + 1);
        }

        @Override
        public String getRelativePath() {
            return path;
        }
    }
}
