package dev.bastion.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Reads the Dockerfiles in src/main/docker/ instruction by instruction and checks that each one copies
 * exactly what the Maven build produces, runs it, and runs it as a non-root user. Runs from the project
 * root, like every Maven test.
 */
class DockerfilesTest {

    private static final Path DOCKER = Path.of("src/main/docker");
    private static final Path JVM = DOCKER.resolve("Dockerfile.jvm");
    private static final Path NATIVE = DOCKER.resolve("Dockerfile.native");
    private static final Path NATIVE_MICRO = DOCKER.resolve("Dockerfile.native-micro");
    private static final Path NATIVE_MULTISTAGE = DOCKER.resolve("Dockerfile.native-multistage");
    private static final List<Path> ALL = List.of(JVM, NATIVE, NATIVE_MICRO, NATIVE_MULTISTAGE);

    private static final String APP_DIR = "target/quarkus-app/";
    private static final String AOT_CACHE_SCRIPT = "src/main/docker/aot-cache.sh";
    private static final String RUNNER = "target/*-runner";
    private static final String MANDREL_BUILDER = "ubi9-quarkus-mandrel-builder-image";
    /** The builder tag for the JDK that Quarkus 3.34's native build targets (graalvm.version). */
    private static final String MANDREL_JDK = "jdk-25";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One logical instruction: continuation lines joined, comments dropped. */
    record Instruction(String keyword, String args, int line) {
    }

    /** A build stage: its FROM and the instructions up to the next FROM. */
    record Stage(String image, String alias, List<Instruction> instructions) {

        List<Instruction> all(String keyword) {
            return instructions.stream().filter(i -> i.keyword().equals(keyword)).collect(Collectors.toList());
        }

        Optional<Instruction> last(String keyword) {
            List<Instruction> found = all(keyword);
            return found.isEmpty() ? Optional.empty() : Optional.of(found.get(found.size() - 1));
        }

        /** The working directory in effect at the given instruction. */
        String workdirAt(Instruction at) {
            String workdir = "/";
            for (Instruction instruction : instructions) {
                if (instruction == at) {
                    break;
                }
                if (instruction.keyword().equals("WORKDIR")) {
                    workdir = resolve(workdir, unquote(instruction.args().trim()));
                }
            }
            return workdir;
        }
    }

    /** COPY/ADD with its --from stage (or null), sources and destination. */
    record Copy(Instruction instruction, String from, List<String> sources, String destination) {
    }

    // ------------------------------------------------------------------------------------------------
    // all images
    // ------------------------------------------------------------------------------------------------

    @Test
    void everyImageRunsAsANumericNonRootUser() {
        for (Path file : ALL) {
            Stage last = finalStage(file);
            Instruction user = last.last("USER")
                    .orElseThrow(() -> new AssertionError(file + ": no USER in the final stage (runs as root)"));
            String uid = user.args().trim().split(":", 2)[0];
            assertTrue(uid.matches("\\d+"), file + ": USER must be a numeric UID (runAsNonRoot checks need it), was " + uid);
            assertTrue(Long.parseLong(uid) > 0, file + ": USER must not be root");
            assertFalse(uid.equalsIgnoreCase("root"), file + ": USER root");
        }
    }

    @Test
    void everyImageExposesTheApiAndTheManagementPort() {
        for (Path file : ALL) {
            List<String> exposed = finalStage(file).all("EXPOSE").stream()
                    .flatMap(i -> tokens(i.args()).stream())
                    .map(port -> port.replace("/tcp", ""))
                    .collect(Collectors.toList());
            assertTrue(exposed.contains("8080"), file + ": EXPOSE 8080 (the API) missing in the final stage");
            assertTrue(exposed.contains("9000"), file + ": EXPOSE 9000 (health and metrics) missing in the final stage");
        }
    }

    @Test
    void noRegistryHostNameIsSpelledOut() throws IOException {
        // built by concatenation so that this file does not contain them either
        List<String> hosts = List.of(
                "repo" + ".maven" + ".apache" + ".org",
                "repo1" + ".maven" + ".org",
                "deb" + ".debian" + ".org",
                "registry" + ".npmjs" + ".org");
        List<Path> files = new ArrayList<>(ALL);
        try (Stream<Path> k8s = Files.list(Path.of("k8s"))) {
            k8s.filter(Files::isRegularFile).forEach(files::add);
        }
        for (Path file : files) {
            String text = Files.readString(file).toLowerCase(Locale.ROOT);
            for (String host : hosts) {
                assertFalse(text.contains(host), file + " names the registry host " + host);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // JVM
    // ------------------------------------------------------------------------------------------------

    @Test
    void jvmImageCopiesTheQuarkusAppLayoutAndRunsQuarkusRun() {
        List<Stage> stages = stages(JVM);
        assertEquals(1, stages.size(), JVM + ": one stage expected");
        Stage stage = stages.get(0);
        assertTrue(stage.image().contains("openjdk-25-runtime"), JVM + ": base image " + stage.image());

        Map<String, String> destinations = new LinkedHashMap<>();
        for (Copy copy : copies(stage)) {
            for (String source : copy.sources()) {
                if (source.equals(AOT_CACHE_SCRIPT)) {
                    continue; // writes the ahead-of-time cache at build time, see below
                }
                assertTrue(source.startsWith(APP_DIR), JVM + ": copies " + source + ", which is not part of " + APP_DIR);
                destinations.put(trimSlash(source), resolve(stage.workdirAt(copy.instruction()), copy.destination()));
            }
        }
        for (String piece : List.of("lib", "*.jar", "app", "quarkus")) {
            assertTrue(destinations.containsKey(APP_DIR + piece), JVM + ": does not copy " + APP_DIR + piece);
        }
        // quarkus-run.jar finds lib/, app/ and quarkus/ next to itself: the layout must survive the copy
        String home = destinations.get(APP_DIR + "*.jar");
        for (String dir : List.of("lib", "app", "quarkus")) {
            assertEquals(resolve(home, dir), destinations.get(APP_DIR + dir), JVM + ": " + dir + "/ must sit next to the jar");
        }
        String jar = resolve(home, "quarkus-run.jar");

        List<String> command = command(stage);
        boolean runsJarDirectly = command.contains(jar);
        boolean runsJarThroughRunJava = command.stream().anyMatch(c -> c.endsWith("run-java.sh"))
                && jar.equals(env(stage).get("JAVA_APP_JAR"));
        assertTrue(runsJarDirectly || runsJarThroughRunJava,
                JVM + ": must run " + jar + " (directly or as JAVA_APP_JAR of run-java.sh), runs " + command);
    }

    /**
     * The JVM flags bench/throughput measures the memory goal with (harness.container_jvm_options):
     * the heap a share of the container limit, everything outside it bounded.
     */
    @Test
    void jvmImageBoundsMemoryOutsideTheHeap() {
        Stage stage = stages(JVM).get(0);
        Map<String, String> env = env(stage);
        List<String> flags = tokens(env.getOrDefault("JAVA_OPTS_APPEND", ""));
        for (String bound : List.of("-XX:MaxMetaspaceSize=", "-XX:ReservedCodeCacheSize=", "-XX:MaxDirectMemorySize=", "-Xss")) {
            assertTrue(flags.stream().anyMatch(f -> f.startsWith(bound)), JVM + ": JAVA_OPTS_APPEND lacks " + bound);
        }
        assertTrue(env.containsKey("JAVA_MAX_MEM_RATIO"), JVM + ": the heap is a share of the container limit");
    }

    /**
     * The heap starts at its full size, so the young generation has its full size from the first request:
     * grown only as the old generation needs it, the heap kept a 15 MB eden at 20 callers (GC CPU per
     * request 0.9 µs instead of 0.2). A different initial share would silently bring that back.
     */
    @Test
    void jvmImageCommitsTheWholeHeapFromTheStart() {
        Map<String, String> env = env(stages(JVM).get(0));
        List<String> gc = tokens(env.getOrDefault("GC_CONTAINER_OPTIONS", ""));
        assertTrue(gc.contains("-XX:InitialRAMPercentage=" + env.get("JAVA_MAX_MEM_RATIO")), JVM
                + ": GC_CONTAINER_OPTIONS must set -XX:InitialRAMPercentage to JAVA_MAX_MEM_RATIO, found " + gc);
        assertTrue(gc.contains("-XX:NewRatio=1"), JVM + ": half the heap young (the requests a crowd keeps waiting die there), found " + gc);
    }

    /** The AOT cache's size as written by the image build (90.6 MB measured, docs/benchmarks.md), rounded up. */
    private static final long AOT_CACHE_MB = 100;
    /** Threads whose stacks count: measured 24 idle and about 40 under load (event loops, JVM, pool, timers). */
    private static final long THREADS = 64;

    /**
     * What the JVM image can use at most (the heap's share of the pod's limit, metaspace, JIT code,
     * direct buffers, thread stacks) plus the AOT cache's mapped pages fits the memory limit of
     * k8s/deployment.yaml with a tenth to spare: the pod is never killed for memory the flags allow.
     */
    @Test
    void jvmImageCeilingsFitThePodsMemoryLimit() throws IOException {
        Map<String, String> env = env(stages(JVM).get(0));
        List<String> flags = tokens(env.get("JAVA_OPTS_APPEND"));
        Matcher limit = Pattern.compile("limits:\\s*\\n(?:\\s+cpu:.*\\n)?\\s+memory:\\s*(\\d+)Mi")
                .matcher(Files.readString(Path.of("k8s/deployment.yaml")));
        assertTrue(limit.find(), "k8s/deployment.yaml: no memory limit in Mi");
        double limitMb = Long.parseLong(limit.group(1)) * 1.048576; // MiB as MB, like the flags' m
        double heap = limitMb * Integer.parseInt(env.get("JAVA_MAX_MEM_RATIO")) / 100.0;
        double sum = heap + megabytes(flags, "-XX:MaxMetaspaceSize=") + megabytes(flags, "-XX:ReservedCodeCacheSize=")
                + megabytes(flags, "-XX:MaxDirectMemorySize=") + THREADS * megabytes(flags, "-Xss") + AOT_CACHE_MB;
        assertTrue(sum <= 0.9 * limitMb, String.format(Locale.ROOT, "heap %.0f + metaspace, code cache, direct memory, "
                + "%d thread stacks and the AOT cache = %.0f MB, more than 90%% of the pod's %.0f MB", heap, THREADS, sum, limitMb));
        assertTrue(heap >= 128, "a heap of at least 128 MB: " + heap);
    }

    private static double megabytes(List<String> flags, String prefix) {
        String value = flags.stream().filter(f -> f.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError(JVM + ": JAVA_OPTS_APPEND lacks " + prefix)).substring(prefix.length());
        double number = Double.parseDouble(value.substring(0, value.length() - 1));
        return switch (Character.toLowerCase(value.charAt(value.length() - 1))) {
            case 'k' -> number / 1024;
            case 'm' -> number;
            case 'g' -> number * 1024;
            default -> throw new AssertionError(prefix + value + ": no unit");
        };
    }

    /**
     * The ahead-of-time cache is written by the script bench/startup measures, for the jar the image
     * runs, with the flags it runs with, and the final JAVA_OPTS_APPEND uses it. The cache serves the
     * JDK's own class loaders only: the jar must be packaged as an aot-jar.
     */
    @Test
    void jvmImageWritesItsAotCacheWithTheFlagsItRunsWith() throws IOException {
        Stage stage = stages(JVM).get(0);
        Map<String, String> env = env(stage);
        List<String> flags = tokens(env.get("JAVA_OPTS_APPEND"));
        String archive = flags.stream().filter(f -> f.startsWith("-XX:AOTCache=")).findFirst()
                .orElseThrow(() -> new AssertionError(JVM + ": JAVA_OPTS_APPEND does not use an AOT cache"))
                .substring("-XX:AOTCache=".length());
        Copy script = copies(stage).stream().filter(c -> c.sources().contains(AOT_CACHE_SCRIPT)).findFirst()
                .orElseThrow(() -> new AssertionError(JVM + ": does not copy " + AOT_CACHE_SCRIPT));
        String scriptInImage = script.destination();
        List<String> run = stage.all("RUN").stream().map(r -> tokens(r.args())).filter(words -> words.contains(scriptInImage))
                .findFirst().orElseThrow(() -> new AssertionError(JVM + ": never runs " + scriptInImage));
        int at = run.indexOf(scriptInImage);
        assertEquals(archive, run.get(at + 1), JVM + ": writes another cache than it uses");
        assertEquals(env.get("JAVA_APP_JAR"), run.get(at + 2), JVM + ": trains another jar than it runs");
        assertEquals(List.of("$GC_CONTAINER_OPTIONS", "$JAVA_OPTS_APPEND"), run.subList(at + 3, at + 5),
                JVM + ": the cache must be written with the flags the image runs with");
        assertTrue(Files.isExecutable(Path.of(AOT_CACHE_SCRIPT)), AOT_CACHE_SCRIPT + " must be executable");
        assertTrue(Files.readAllLines(Path.of("src/main/resources/application.properties")).contains("quarkus.package.jar.type=aot-jar"),
                "application.properties must package the jar as an aot-jar: the cache cannot serve fast-jar's class loader");
    }

    // ------------------------------------------------------------------------------------------------
    // native
    // ------------------------------------------------------------------------------------------------

    @Test
    void nativeImageCopiesTheRunnerAndRunsIt() {
        Stage stage = singleStage(NATIVE);
        assertTrue(stage.image().contains("ubi9/ubi-minimal"), NATIVE + ": base image " + stage.image());
        assertRunsCopiedRunner(NATIVE, stage, null, RUNNER);
    }

    @Test
    void nativeMicroImageCopiesTheRunnerAndRunsIt() {
        Stage stage = singleStage(NATIVE_MICRO);
        assertTrue(stage.image().contains("quarkus-micro-image"), NATIVE_MICRO + ": base image " + stage.image());
        assertRunsCopiedRunner(NATIVE_MICRO, stage, null, RUNNER);
    }

    /**
     * The Mandrel version Quarkus builds for, as {@code ./mvnw package -Dnative -Dquarkus.native.sources-only=true}
     * writes it to target/native-sources/graalvm.version (CI generates it before the native check); the
     * builder's tag must be the matching JDK.
     */
    @Test
    void multistageBuilderMatchesTheGeneratedGraalVmVersion() throws IOException {
        Path version = Path.of("target/native-sources/graalvm.version");
        if (Boolean.getBoolean("native.sources.check")) { // CI generated them just before: a skip would prove nothing
            assertTrue(Files.exists(version), "-Dnative.sources.check=true but no " + version + " was generated");
            assertTrue(Files.getLastModifiedTime(version).compareTo(Files.getLastModifiedTime(Path.of("pom.xml"))) >= 0,
                    version + " is older than pom.xml: stale native sources of another build");
        }
        Assumptions.assumeTrue(Files.exists(version), "no native sources generated in this build");
        String text = Files.readString(version).trim();
        Matcher javaVersion = Pattern.compile("(?m)^java\\.version=(\\d+)").matcher(text);
        String jdk = javaVersion.find() ? javaVersion.group(1) : text.replaceAll("(?s)^(\\d+).*", "$1");
        assertEquals(MANDREL_JDK, "jdk-" + jdk, "graalvm.version says " + text);
    }

    @Test
    void multistageBuildsInMandrelAndCopiesTheRunnerIntoAMicroImage() {
        List<Stage> stages = stages(NATIVE_MULTISTAGE);
        assertTrue(stages.size() >= 2, NATIVE_MULTISTAGE + ": a build stage and a runtime stage expected");
        Stage builder = stages.stream()
                .filter(s -> s.image().contains(MANDREL_BUILDER))
                .findFirst()
                .orElseThrow(() -> new AssertionError(NATIVE_MULTISTAGE + ": no FROM " + MANDREL_BUILDER));
        assertNotNull(builder.alias(), NATIVE_MULTISTAGE + ": the builder stage needs a name (FROM ... AS build)");
        assertTrue(builder.image().endsWith(":" + MANDREL_JDK), NATIVE_MULTISTAGE + ": the builder must be Mandrel for "
                + MANDREL_JDK + ", the JDK Quarkus generates native sources for; was " + builder.image());
        Stage runtime = stages.get(stages.size() - 1);
        assertTrue(runtime != builder, NATIVE_MULTISTAGE + ": the final stage must not be the builder");
        assertTrue(runtime.image().contains("quarkus-micro-image") || runtime.image().contains("ubi-minimal"),
                NATIVE_MULTISTAGE + ": final base image " + runtime.image());

        // the builder gets the project and nothing it does not need
        List<String> copied = copies(builder).stream()
                .flatMap(c -> c.sources().stream())
                .map(DockerfilesTest::trimSlash)
                .collect(Collectors.toList());
        for (String needed : List.of("pom.xml", "mvnw", ".mvn", "src")) {
            assertTrue(copied.contains(needed), NATIVE_MULTISTAGE + ": the build stage does not copy " + needed);
        }
        assertFalse(copied.contains(".") || copied.contains("target"),
                NATIVE_MULTISTAGE + ": copy only what the build needs, not the whole context or target/");

        // ./mvnw has no Maven to bootstrap from in the builder image: MVNW_REPOURL must reach it
        assertTrue(builder.all("ARG").stream().anyMatch(a -> a.args().trim().startsWith("MVNW_REPOURL")),
                NATIVE_MULTISTAGE + ": ARG MVNW_REPOURL missing");
        assertTrue(env(builder).containsKey("MVNW_REPOURL"), NATIVE_MULTISTAGE + ": ENV MVNW_REPOURL missing");

        Instruction build = builder.all("RUN").stream()
                .filter(r -> {
                    List<String> words = tokens(r.args());
                    return words.contains("./mvnw") && words.contains("package") && words.contains("-Dnative");
                })
                .findFirst()
                .orElseThrow(() -> new AssertionError(NATIVE_MULTISTAGE + ": no RUN ./mvnw package -Dnative"));
        String producedRunner = resolve(builder.workdirAt(build), RUNNER);

        assertRunsCopiedRunner(NATIVE_MULTISTAGE, runtime, builder.alias(), producedRunner);
    }

    // ------------------------------------------------------------------------------------------------
    // assertions shared by the native images
    // ------------------------------------------------------------------------------------------------

    /**
     * The stage copies the runner (from the build context, or from stage {@code from}) to one file and its
     * ENTRYPOINT/CMD starts that file; nothing else is copied.
     */
    private static void assertRunsCopiedRunner(Path file, Stage stage, String from, String runner) {
        List<Copy> copies = copies(stage);
        assertEquals(1, copies.size(), file + ": the runtime stage should copy the runner only");
        Copy copy = copies.get(0);
        if (from == null) {
            assertNull(copy.from(), file + ": the runner comes from the build context");
            assertEquals(List.of(runner), copy.sources(), file + ": must copy " + runner);
        } else {
            assertTrue(from.equalsIgnoreCase(String.valueOf(copy.from())), file + ": must copy --from=" + from);
            assertEquals(1, copy.sources().size(), file + ": one source expected");
            String source = copy.sources().get(0);
            assertTrue(source.endsWith(RUNNER), file + ": must copy the runner, copies " + source);
            assertEquals(runner, resolve("/", source), file + ": copies " + source + " but the build produces " + runner);
        }
        assertFalse(copy.destination().endsWith("/"), file + ": copy the runner to a file name, so ENTRYPOINT can name it");
        String installed = resolve(stage.workdirAt(copy.instruction()), copy.destination());

        Instruction start = stage.last("ENTRYPOINT").or(() -> stage.last("CMD"))
                .orElseThrow(() -> new AssertionError(file + ": no ENTRYPOINT or CMD"));
        List<String> exec = execForm(start);
        assertFalse(exec.isEmpty(), file + ": empty " + start.keyword());
        assertEquals(installed, resolve(stage.workdirAt(start), exec.get(0)),
                file + ": " + start.keyword() + " must start the copied runner " + installed);
    }

    // ------------------------------------------------------------------------------------------------
    // Dockerfile parsing
    // ------------------------------------------------------------------------------------------------

    static List<Instruction> parse(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Instruction> instructions = new ArrayList<>();
        StringBuilder current = null;
        int startLine = 0;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            String trimmed = line.trim();
            if (current == null) {
                if (trimmed.isEmpty() || trimmed.startsWith("#")) {
                    continue;
                }
                current = new StringBuilder();
                startLine = i + 1;
            } else if (trimmed.isEmpty() || trimmed.startsWith("#")) {
                continue; // Docker drops comment and empty lines inside a continued instruction
            }
            String stripped = line.stripTrailing();
            if (stripped.endsWith("\\")) {
                current.append(stripped, 0, stripped.length() - 1).append(' ');
                continue;
            }
            current.append(stripped);
            instructions.add(instruction(current.toString(), startLine));
            current = null;
        }
        if (current != null) {
            instructions.add(instruction(current.toString(), startLine));
        }
        return instructions;
    }

    private static Instruction instruction(String text, int line) {
        String trimmed = text.trim();
        int space = indexOfWhitespace(trimmed);
        String keyword = (space < 0 ? trimmed : trimmed.substring(0, space)).toUpperCase(Locale.ROOT);
        String args = space < 0 ? "" : trimmed.substring(space).trim();
        return new Instruction(keyword, args, line);
    }

    static List<Stage> stages(Path file) {
        List<Stage> stages = new ArrayList<>();
        String image = null;
        String alias = null;
        List<Instruction> body = null;
        for (Instruction instruction : parse(file)) {
            if (instruction.keyword().equals("FROM")) {
                if (body != null) {
                    stages.add(new Stage(image, alias, body));
                }
                List<String> words = tokens(instruction.args()).stream()
                        .filter(w -> !w.startsWith("--")) // --platform=...
                        .collect(Collectors.toList());
                assertFalse(words.isEmpty(), file + ":" + instruction.line() + ": FROM without image");
                image = words.get(0);
                alias = words.size() >= 3 && words.get(1).equalsIgnoreCase("AS") ? words.get(2) : null;
                body = new ArrayList<>();
            } else if (body != null) {
                body.add(instruction);
            } // instructions before the first FROM (global ARGs) belong to no stage
        }
        if (body != null) {
            stages.add(new Stage(image, alias, body));
        }
        assertFalse(stages.isEmpty(), file + ": no FROM");
        return stages;
    }

    private static Stage finalStage(Path file) {
        List<Stage> stages = stages(file);
        return stages.get(stages.size() - 1);
    }

    private static Stage singleStage(Path file) {
        List<Stage> stages = stages(file);
        assertEquals(1, stages.size(), file + ": one stage expected");
        return stages.get(0);
    }

    private static List<Copy> copies(Stage stage) {
        List<Copy> copies = new ArrayList<>();
        for (Instruction instruction : stage.instructions()) {
            if (!instruction.keyword().equals("COPY") && !instruction.keyword().equals("ADD")) {
                continue;
            }
            String from = null;
            List<String> paths = new ArrayList<>();
            List<String> words = instruction.args().startsWith("[") ? jsonArray(instruction) : tokens(instruction.args());
            for (String word : words) {
                if (word.startsWith("--from=")) {
                    from = word.substring("--from=".length());
                } else if (!word.startsWith("--")) {
                    paths.add(word);
                }
            }
            assertTrue(paths.size() >= 2, instruction.keyword() + " at line " + instruction.line() + " needs a source and a destination");
            copies.add(new Copy(instruction, from,
                    List.copyOf(paths.subList(0, paths.size() - 1)), paths.get(paths.size() - 1)));
        }
        return copies;
    }

    /** ENTRYPOINT followed by CMD, as the container would run them (exec form or shell form words). */
    private static List<String> command(Stage stage) {
        List<String> command = new ArrayList<>();
        stage.last("ENTRYPOINT").ifPresent(i -> command.addAll(execForm(i)));
        stage.last("CMD").ifPresent(i -> command.addAll(execForm(i)));
        return command;
    }

    private static List<String> execForm(Instruction instruction) {
        return instruction.args().startsWith("[") ? jsonArray(instruction) : tokens(instruction.args());
    }

    private static List<String> jsonArray(Instruction instruction) {
        try {
            return JSON.readValue(instruction.args(), new TypeReference<List<String>>() {
            });
        } catch (JsonProcessingException e) {
            throw new AssertionError(instruction.keyword() + " at line " + instruction.line() + ": invalid JSON array", e);
        }
    }

    /** ENV values of the stage, in both the KEY=VALUE and the legacy "KEY VALUE" form. */
    private static Map<String, String> env(Stage stage) {
        Map<String, String> env = new LinkedHashMap<>();
        for (Instruction instruction : stage.all("ENV")) {
            List<String> words = tokens(instruction.args());
            if (words.isEmpty()) {
                continue;
            }
            if (!words.get(0).contains("=")) {
                String args = instruction.args().trim();
                int space = indexOfWhitespace(args);
                env.put(words.get(0), space < 0 ? "" : unquote(args.substring(space).trim()));
                continue;
            }
            for (String word : words) {
                int eq = word.indexOf('=');
                if (eq > 0) {
                    env.put(word.substring(0, eq), expand(word.substring(eq + 1), env));
                }
            }
        }
        return env;
    }

    /** ${NAME} references to variables set by earlier ENV instructions, replaced as Docker does. */
    private static String expand(String value, Map<String, String> env) {
        return Pattern.compile("\\$\\{(\\w+)\\}").matcher(value).replaceAll(m -> Matcher.quoteReplacement(env.getOrDefault(m.group(1), "")));
    }

    /** Splits on whitespace outside quotes and removes the quotes, like the shell would for simple words. */
    static List<String> tokens(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else if (c == '\\' && quote == '"' && i + 1 < text.length()) {
                    word.append(text.charAt(++i));
                } else {
                    word.append(c);
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
            } else {
                word.append(c);
                inWord = true;
            }
        }
        if (inWord) {
            words.add(word.toString());
        }
        return words;
    }

    private static String unquote(String text) {
        List<String> words = tokens(text);
        return words.size() == 1 ? words.get(0) : text;
    }

    private static int indexOfWhitespace(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (Character.isWhitespace(text.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    private static String trimSlash(String path) {
        String trimmed = path;
        while (trimmed.length() > 1 && trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        return trimmed.startsWith("./") ? trimmed.substring(2) : trimmed;
    }

    /** POSIX path resolution inside the image (independent of the OS running the test). */
    static String resolve(String base, String path) {
        String combined = path.startsWith("/") ? path : base + "/" + path;
        Deque<String> parts = new ArrayDeque<>();
        for (String part : combined.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                parts.pollLast();
            } else {
                parts.addLast(part);
            }
        }
        return "/" + String.join("/", parts);
    }
}
