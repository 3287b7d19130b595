package dev.bastion.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** The packaged service (the native binary when one was built, else the jar) on a database of the test server. */
public record PackagedService(Process process, Path log) implements AutoCloseable {

    private static final long START_LIMIT_SECONDS = 120;

    /** Started with the test server's database {@code db}, on ports of its own choosing. */
    public static PackagedService against(String db) throws IOException {
        return against(db, Map.of());
    }

    /** With more environment variables ({@code env}), which win over the defaults. */
    public static PackagedService against(String db, Map<String, String> env) throws IOException {
        Path nativeBinary = Path.of(System.getProperty("native.image.path", "target/none"));
        List<String> command = new ArrayList<>();
        if (Files.exists(nativeBinary)) {
            command.add(nativeBinary.toString());
        } else {
            Path jar = Path.of("target", "quarkus-app", "quarkus-run.jar");
            assertTrue(Files.exists(jar), "no packaged service at " + jar.toAbsolutePath());
            command.addAll(List.of(ProcessHandle.current().info().command().orElse("java"), "-jar", jar.toString()));
        }
        Path log = Files.createTempFile("bastion-start-", ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(Map.of("DB_HOST", "localhost", "DB_PORT", String.valueOf(PostgresResource.port()),
                "DB_NAME", db, "DB_USERNAME", "postgres", "DB_PASSWORD", "postgres", "PORT", "0",
                "MANAGEMENT_PORT", "0", "QUARKUS_LOG_CATEGORY__DEV_BASTION_SCHEMA__LEVEL", "DEBUG"));
        builder.environment().putAll(env);
        return new PackagedService(builder.start(), log);
    }

    public boolean waitForLog(String text) throws Exception {
        return waitFor(() -> output().contains(text));
    }

    /** TCP sockets the process listens on (Linux: its socket descriptors matched against /proc/net/tcp*). */
    public long listeningSockets() throws IOException {
        Set<String> listening = new HashSet<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            List<String> lines = Files.readAllLines(Path.of(table));
            for (String line : lines.subList(1, lines.size())) { // after the header
                String[] fields = line.trim().split("\\s+");
                if (fields[3].equals("0A")) { // st: TCP_LISTEN; fields[9]: the socket's inode
                    listening.add("socket:[" + fields[9] + "]");
                }
            }
        }
        try (Stream<Path> descriptors = Files.list(Path.of("/proc", String.valueOf(process.pid()), "fd"))) {
            return descriptors.map(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString();
                } catch (IOException closedMeanwhile) {
                    return "";
                }
            }).filter(listening::contains).count();
        }
    }

    public int exitCode() throws InterruptedException {
        assertTrue(process.waitFor(START_LIMIT_SECONDS, TimeUnit.SECONDS), "still running after " + START_LIMIT_SECONDS + " s");
        return process.exitValue();
    }

    public String output() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws Exception {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
        Files.deleteIfExists(log);
    }

    /** Waits up to the start limit for {@code condition}; false when it never held or the process ended. */
    public boolean waitFor(Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_LIMIT_SECONDS);
        while (!condition.call()) {
            if (System.nanoTime() > deadline || !process.isAlive()) {
                return false;
            }
            Thread.sleep(100);
        }
        return true;
    }
}
