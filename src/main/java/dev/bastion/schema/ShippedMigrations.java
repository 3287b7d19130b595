package dev.bastion.schema;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The migrations in this build, read from the classpath in the order of {@code db/migration/index.txt}.
 * An index rather than a directory listing: a native image cannot list a classpath directory.
 * {@code ShippedMigrationsTest} fails the build when the index and the directory disagree.
 */
public final class ShippedMigrations {

    public static final String DIRECTORY = "db/migration/";
    public static final String INDEX = DIRECTORY + "index.txt";

    private ShippedMigrations() {
    }

    /** Every shipped migration, by ascending version. */
    public static List<Migration> load() {
        List<Migration> migrations = new ArrayList<>();
        for (String line : read(INDEX).split("\n")) {
            String file = line.strip();
            if (!file.isEmpty() && !file.startsWith("#")) {
                migrations.add(Migration.of(DIRECTORY + file, read(DIRECTORY + file)));
            }
        }
        migrations.sort(Comparator.comparingInt(Migration::version));
        for (int i = 1; i < migrations.size(); i++) {
            if (migrations.get(i).version() == migrations.get(i - 1).version()) {
                throw new IllegalStateException("two migrations with version " + migrations.get(i).version());
            }
        }
        return List.copyOf(migrations);
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
}
