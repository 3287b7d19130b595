package dev.bastion.delivery;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import dev.bastion.database.FailureKind;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import org.junit.jupiter.api.Test;

/**
 * The documents (README.md, docs/*.md, k8s/README.md) against the code, so that neither can change
 * without the other: the settings (application.properties and the {@code @ConfigMapping}s) against the
 * tables of docs/configuration.md, {@link FailureKind} against the table of docs/failure-model.md, the
 * {@code bastion_db_*} meters registered in src/main/java and the alerts of k8s/prometheus-rules.yaml
 * against docs/operations.md, and every relative link against the files and headings it points at.
 * Plain file reading and reflection: no Quarkus boot. Runs from the project root, like every Maven test.
 */
class DocsMatchCodeTest {

    private static final Path README = Path.of("README.md");
    private static final Path DOCS = Path.of("docs");
    private static final Path CONFIGURATION = DOCS.resolve("configuration.md");
    private static final Path FAILURE_MODEL = DOCS.resolve("failure-model.md");
    private static final Path OPERATIONS = DOCS.resolve("operations.md");
    private static final Path K8S_README = Path.of("k8s", "README.md");
    private static final Path ALERT_RULES = Path.of("k8s", "prometheus-rules.yaml");
    private static final Path CI = Path.of(".ci", "run");
    private static final Path APPLICATION_PROPERTIES = Path.of("src", "main", "resources", "application.properties");
    private static final Path MAIN_JAVA = Path.of("src", "main", "java");
    /** Each feature checks its own settings: database/DatabaseSettingsCheck, idempotency/..., logging/... */
    private static final String SETTINGS_CHECKS = "*SettingsCheck.java under " + MAIN_JAVA;

    /** The README's test command, which .ci/run runs: the heading and the command stay as they are. */
    private static final String TWO_COMMANDS_HEADING = "## The two commands";
    private static final String TEST_COMMAND = "./mvnw -B verify";
    /** The README stays an introduction; the rest lives in docs/. */
    private static final int README_MAX_LINES = 300;

    /** First header cell of the tables this test reads. */
    private static final String VARIABLE_COLUMN = "Variable";
    private static final String DEFAULT_COLUMN = "Default";
    private static final String RANGE_COLUMN = "Range";
    private static final String KIND_COLUMN = "Kind";
    private static final String STATUS_COLUMN = "Status";
    private static final String RETRIED_COLUMN = "Retried";
    private static final String SERIES_COLUMN = "Series";
    private static final String ALERT_COLUMN = "Alert";

    /** Variables of Quarkus and MicroProfile that the documents name but the service does not read itself. */
    private static final List<String> FRAMEWORK_PREFIXES = List.of("QUARKUS_", "MP_");

    private static final Pattern CODE_SPAN = Pattern.compile("`([^`]+)`");
    private static final Pattern ENV_NAME = Pattern.compile("[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z][A-Z0-9]+");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)(?::([^}]*))?}");
    private static final Pattern TABLE_SEPARATOR = Pattern.compile("\\|(\\s*:?-{3,}:?\\s*\\|)+");
    private static final Pattern SLUG = Pattern.compile("[a-z]+(?:-[a-z]+)*");
    private static final Pattern DOCUMENTED_SERIES = Pattern.compile("\\bbastion_db_[a-z0-9_]*[a-z0-9]\\b");
    private static final Pattern METER_BUILDER = Pattern.compile(
            "\\b(Gauge|TimeGauge|Counter|FunctionCounter|Timer|FunctionTimer|LongTaskTimer|DistributionSummary)"
                    + "\\.builder\\(\\s*\"(bastion\\.db\\.[a-z0-9.]+)\"");
    /** DatabaseMeters' helper: {@code count("bastion.db....", description, tags)} registers a function counter. */
    private static final Pattern COUNT_HELPER = Pattern.compile("\\bcount\\(\\s*\"(bastion\\.db\\.[a-z0-9.]+)\"");
    /** A meter name held in a constant ({@code static final String NAME = "bastion.db...."}). */
    private static final Pattern NAME_CONSTANT = Pattern.compile(
            "\\bstatic final String ([A-Z][A-Z0-9_]*)\\s*=\\s*\"(bastion\\.db\\.[a-z0-9.]+)\"");
    /** A registration that names its meter by such a constant. */
    private static final Pattern BY_CONSTANT = Pattern.compile(
            "\\b(Gauge|TimeGauge|Counter|FunctionCounter|Timer|FunctionTimer|LongTaskTimer|DistributionSummary|counter|count)"
                    + "(?:\\.builder)?\\(\\s*([A-Z][A-Z0-9_]*)\\s*[,)]");
    private static final Pattern REGISTRY_SHORTCUT = Pattern.compile(
            "\\.(counter|gauge|timer|summary)\\(\\s*\"(bastion\\.db\\.[a-z0-9.]+)\"");
    private static final Pattern METER_NAME_LITERAL = Pattern.compile("\"(bastion\\.db\\.[a-z0-9.-]+)\"");
    private static final Pattern ALERT = Pattern.compile("^\\s*-\\s*alert:\\s*([A-Za-z0-9]+)\\s*$", Pattern.MULTILINE);
    private static final Pattern ALERT_NAME = Pattern.compile("\\bBastion[A-Z][A-Za-z0-9]*\\b");
    private static final Pattern LINK = Pattern.compile("!?\\[[^\\]]*]\\(([^)\\s]+)(?:\\s+\"[^\"]*\")?\\)");
    private static final Pattern HEADING = Pattern.compile("^(#{1,6})\\s+(.+?)\\s*#*\\s*$");
    private static final Pattern HISTORY = Pattern.compile(
            "(?i)\\bissue\\s*#?\\d+|\\(issue\\b|\\b(?:first|second|third|fourth|fifth|sixth|seventh)\\s+pass\\b|\\bpass\\s+\\d+\\b");

    // ------------------------------------------------------------------------------------------------
    // settings: application.properties and the config mappings against docs/configuration.md
    // ------------------------------------------------------------------------------------------------

    @Test
    void everyVariableTheServiceReadsIsInTheConfigurationTables() {
        Set<String> documented = configurationRows().keySet();
        Set<String> missing = new TreeSet<>(knownVariables().keySet());
        missing.removeAll(documented);
        assertTrue(missing.isEmpty(), "read by the service but not in a '" + VARIABLE_COLUMN + "' table of "
                + CONFIGURATION + ": " + missing);
    }

    @Test
    void everyVariableInTheConfigurationTablesIsReadByTheService() {
        Map<String, String> known = knownVariables();
        Set<String> unknown = configurationRows().keySet().stream()
                .filter(name -> FRAMEWORK_PREFIXES.stream().noneMatch(name::startsWith))
                .filter(name -> !known.containsKey(name))
                .collect(Collectors.toCollection(TreeSet::new));
        assertTrue(unknown.isEmpty(), CONFIGURATION + " names variables that neither application.properties nor a "
                + "@ConfigMapping reads: " + unknown);
    }

    @Test
    void theSettingsTablesStateTheCodesDefaults() {
        Map<String, String> known = knownVariables();
        Map<String, String> wrong = new TreeMap<>();
        for (Path document : List.of(CONFIGURATION, README)) {
            variableRows(document, document.equals(CONFIGURATION)).forEach((name, row) -> {
                String expected = known.get(name);
                if (expected == null) {
                    return; // not a variable of the service: reported by the tests above and below
                }
                String cell = row.defaultCell();
                if (expected.isEmpty()) {
                    if (!cell.toLowerCase(Locale.ROOT).startsWith("unset")) {
                        wrong.put(document + " " + name, "'" + cell + "' (the code has no default: the cell must start with 'unset')");
                    }
                } else if (!expected.equals(firstToken(cell))) {
                    wrong.put(document + " " + name, "'" + cell + "' (the code's default is " + expected + ")");
                }
            });
        }
        assertTrue(wrong.isEmpty(), "defaults in the settings tables that differ from the code: " + wrong);
    }

    @Test
    void everyCheckedSettingHasItsRangeInTheConfigurationTables() {
        Map<String, VariableRow> rows = configurationRows();
        Map<String, String> known = knownVariables();
        Set<String> checked = new TreeSet<>();
        javaSources().stream().filter(source -> source.getFileName().toString().endsWith("SettingsCheck.java"))
                .forEach(source -> checked.addAll(serviceVariablesIn(read(source), known.keySet())));
        assertFalse(checked.isEmpty(), "no variable names found in " + SETTINGS_CHECKS);
        Set<String> unknown = new TreeSet<>(checked);
        unknown.removeAll(known.keySet());
        assertTrue(unknown.isEmpty(), SETTINGS_CHECKS + " check variables the service does not read: " + unknown);
        Set<String> withoutRange = checked.stream()
                .filter(rows::containsKey)
                .filter(name -> {
                    String range = rows.get(name).rangeCell();
                    return range.isEmpty() || range.equals("—") || range.equals("-");
                })
                .collect(Collectors.toCollection(TreeSet::new));
        assertTrue(withoutRange.isEmpty(), "checked by SettingsCheck but without a range in " + CONFIGURATION + ": "
                + withoutRange);
    }

    @Test
    void everyServiceVariableTheDocumentsNameExists() {
        Map<String, String> known = knownVariables();
        Map<String, Set<String>> unknown = new TreeMap<>();
        for (Path document : documents()) {
            for (String name : serviceVariablesIn(read(document), known.keySet())) {
                if (!known.containsKey(name)) {
                    unknown.computeIfAbsent(document.toString(), d -> new TreeSet<>()).add(name);
                }
            }
        }
        assertTrue(unknown.isEmpty(), "variables named in the documents that the service does not read: " + unknown);
    }

    // ------------------------------------------------------------------------------------------------
    // FailureKind against docs/failure-model.md
    // ------------------------------------------------------------------------------------------------

    @Test
    void everyFailureKindIsInTheFailureModelTableWithItsStatusAndRetry() {
        Map<String, FailureKind> bySlug = new LinkedHashMap<>();
        for (FailureKind kind : FailureKind.values()) {
            bySlug.put(kind.problemSlug(), kind);
        }
        List<Table> tables = tables(FAILURE_MODEL, KIND_COLUMN);
        assertFalse(tables.isEmpty(), FAILURE_MODEL + " has no table whose first column is '" + KIND_COLUMN + "'");

        Map<String, List<String>> rows = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (Table table : tables) {
            for (List<String> row : table.rows()) {
                for (String slug : codeSpans(row.get(0))) {
                    if (!SLUG.matcher(slug).matches()) {
                        continue;
                    }
                    if (!bySlug.containsKey(slug)) {
                        problems.add("'" + slug + "' is not the problem slug of any FailureKind");
                    } else if (rows.put(slug, cellsByHeader(table, row)) != null) {
                        problems.add("'" + slug + "' has more than one row");
                    }
                }
            }
        }
        for (Map.Entry<String, FailureKind> entry : bySlug.entrySet()) {
            String slug = entry.getKey();
            FailureKind kind = entry.getValue();
            List<String> row = rows.get(slug);
            if (row == null) {
                problems.add(kind + " ('" + slug + "') has no row");
                continue;
            }
            String status = row.get(0);
            if (!Pattern.compile("\\b" + kind.httpStatus() + "\\b").matcher(status).find()) {
                problems.add("'" + slug + "': status '" + status + "', the code answers " + kind.httpStatus());
            }
            boolean documentedRetried = row.get(1).toLowerCase(Locale.ROOT).startsWith("yes");
            if (documentedRetried != kind.retryable()) {
                problems.add("'" + slug + "': retried '" + row.get(1) + "', but " + kind + ".retryable() is "
                        + kind.retryable() + " (the cell must start with " + (kind.retryable() ? "'yes'" : "'no'") + ")");
            }
        }
        assertTrue(problems.isEmpty(), FAILURE_MODEL + " and FailureKind disagree:\n  " + String.join("\n  ", problems));
    }

    // ------------------------------------------------------------------------------------------------
    // bastion_db_* meters against docs/operations.md
    // ------------------------------------------------------------------------------------------------

    @Test
    void theCodeRegistersMetersThisTestRecognises() {
        Map<String, MeterType> meters = registeredMeters();
        assertFalse(meters.isEmpty(), "no bastion.db.* meter registration found under " + MAIN_JAVA);
        Set<String> properties = mappedSettings().stream().map(MappedSetting::property).collect(Collectors.toSet());
        Map<String, Set<String>> unrecognised = new TreeMap<>();
        for (Path source : javaSources()) {
            Matcher literal = METER_NAME_LITERAL.matcher(read(source));
            while (literal.find()) {
                String name = literal.group(1);
                if (!meters.containsKey(name) && !properties.contains(name)) {
                    unrecognised.computeIfAbsent(source.toString(), s -> new TreeSet<>()).add(name);
                }
            }
        }
        assertTrue(unrecognised.isEmpty(), "bastion.db.* names that are neither a meter registration this test "
                + "recognises (" + METER_BUILDER.pattern() + ", the count(...) helper, registry shortcuts) nor a "
                + "setting; teach this test the new pattern: " + unrecognised);
    }

    @Test
    void everyRegisteredMeterIsInTheOperationsMetricsTable() {
        Set<String> documented = new TreeSet<>();
        List<Table> tables = tables(OPERATIONS, SERIES_COLUMN);
        assertFalse(tables.isEmpty(), OPERATIONS + " has no table whose first column is '" + SERIES_COLUMN + "'");
        for (Table table : tables) {
            for (List<String> row : table.rows()) {
                documented.addAll(codeSpans(row.get(0)));
            }
        }
        Map<String, String> missing = new TreeMap<>();
        registeredMeters().forEach((meter, type) -> {
            String series = type.primarySeries(prometheusBase(meter));
            if (!documented.contains(series)) {
                missing.put(meter, series);
            }
        });
        assertTrue(missing.isEmpty(), "meters registered in the code without a row in the metrics table of "
                + OPERATIONS + " (meter = series): " + missing);
    }

    @Test
    void everyBastionSeriesTheDocumentsNameIsExported() {
        Map<String, Set<String>> unknown = unexportedSeriesIn(documents());
        assertTrue(unknown.isEmpty(), "bastion_db_* series named in the documents that the code does not export "
                + "(exported: " + exportedSeries() + "): " + unknown);
    }

    @Test
    void everyBastionSeriesTheDashboardAndTheAlertsQueryIsExported() {
        Map<String, Set<String>> unknown = unexportedSeriesIn(
                List.of(Path.of("k8s", "grafana-dashboard.json"), Path.of("k8s", "prometheus-rules.yaml")));
        assertTrue(unknown.isEmpty(), "bastion_db_* series queried by the dashboard or the alerts that the code does "
                + "not export (exported: " + exportedSeries() + "): " + unknown);
    }

    private static Set<String> exportedSeries() {
        Set<String> exported = new TreeSet<>();
        registeredMeters().forEach((meter, type) -> exported.addAll(type.series(prometheusBase(meter))));
        return exported;
    }

    /** Per file, the bastion_db_* series it names that the code does not export. */
    private static Map<String, Set<String>> unexportedSeriesIn(Collection<Path> files) {
        Set<String> exported = exportedSeries();
        Map<String, Set<String>> unknown = new TreeMap<>();
        for (Path file : files) {
            Matcher series = DOCUMENTED_SERIES.matcher(read(file));
            while (series.find()) {
                if (!exported.contains(series.group())) {
                    unknown.computeIfAbsent(file.toString(), d -> new TreeSet<>()).add(series.group());
                }
            }
        }
        return unknown;
    }

    // ------------------------------------------------------------------------------------------------
    // alerts against docs/operations.md
    // ------------------------------------------------------------------------------------------------

    @Test
    void everyAlertIsInTheOperationsAlertTableAndNoOther() {
        Set<String> alerts = new TreeSet<>();
        Matcher alert = ALERT.matcher(read(ALERT_RULES));
        while (alert.find()) {
            alerts.add(alert.group(1));
        }
        assertFalse(alerts.isEmpty(), "no alert found in " + ALERT_RULES);

        Set<String> documented = new TreeSet<>();
        List<Table> tables = tables(OPERATIONS, ALERT_COLUMN);
        assertFalse(tables.isEmpty(), OPERATIONS + " has no table whose first column is '" + ALERT_COLUMN + "'");
        for (Table table : tables) {
            for (List<String> row : table.rows()) {
                documented.addAll(codeSpans(row.get(0)));
            }
        }
        Set<String> missing = new TreeSet<>(alerts);
        missing.removeAll(documented);
        assertTrue(missing.isEmpty(), "alerts of " + ALERT_RULES + " without a row in " + OPERATIONS + ": " + missing);

        Map<String, Set<String>> unknown = new TreeMap<>();
        for (Path document : documents()) {
            Matcher name = ALERT_NAME.matcher(read(document));
            while (name.find()) {
                if (!alerts.contains(name.group())) {
                    unknown.computeIfAbsent(document.toString(), d -> new TreeSet<>()).add(name.group());
                }
            }
        }
        assertTrue(unknown.isEmpty(), "alert names in the documents that " + ALERT_RULES + " does not define: " + unknown);
    }

    // ------------------------------------------------------------------------------------------------
    // the documents themselves
    // ------------------------------------------------------------------------------------------------

    @Test
    void everyRelativeLinkPointsAtAnExistingFileAndHeading() {
        List<String> broken = new ArrayList<>();
        for (Path document : documents()) {
            for (String target : links(read(document))) {
                if (target.matches("(?i)[a-z][a-z0-9+.-]*:.*")) {
                    continue; // https:, mailto:, ...
                }
                int hash = target.indexOf('#');
                String file = hash < 0 ? target : target.substring(0, hash);
                String anchor = hash < 0 ? null : target.substring(hash + 1);
                Path resolved = file.isEmpty() ? document : document.toAbsolutePath().getParent().resolve(file).normalize();
                if (!Files.exists(resolved)) {
                    broken.add(document + ": " + target + " (no such file)");
                } else if (anchor != null && resolved.toString().endsWith(".md")
                        && !anchors(read(resolved)).contains(anchor)) {
                    broken.add(document + ": " + target + " (no such heading)");
                }
            }
        }
        assertTrue(broken.isEmpty(), "broken links:\n  " + String.join("\n  ", broken));
    }

    @Test
    void theReadmeKeepsTheTwoCommandsAndStaysShort() {
        List<String> readme = lines(README);
        assertTrue(readme.contains(TWO_COMMANDS_HEADING), README + " must keep the heading '" + TWO_COMMANDS_HEADING
                + "' (.ci/run runs the README's test command)");
        assertTrue(read(README).contains(TEST_COMMAND), README + " must name the test command " + TEST_COMMAND);
        assertTrue(read(CI).contains(TEST_COMMAND), CI + " must run the README's test command " + TEST_COMMAND);
        assertTrue(readme.size() <= README_MAX_LINES, README + " has " + readme.size() + " lines; keep it at most "
                + README_MAX_LINES + " and move the rest to " + DOCS + "/");
    }

    @Test
    void theDocumentsHoldNoHistory() {
        Map<String, Set<String>> history = new TreeMap<>();
        for (Path document : documents()) {
            Matcher found = HISTORY.matcher(read(document));
            while (found.find()) {
                history.computeIfAbsent(document.toString(), d -> new TreeSet<>()).add(found.group());
            }
        }
        assertTrue(history.isEmpty(), "history lives in git, not in the documents: " + history);
    }

    // ------------------------------------------------------------------------------------------------
    // what the code reads
    // ------------------------------------------------------------------------------------------------

    /** One method of a {@code @ConfigMapping}: its property name and default. */
    private record MappedSetting(String property, String defaultValue) {
    }

    /**
     * Every environment variable the service reads, with its default ("" when it has none): the
     * placeholders of application.properties, and the settings of the config mappings that
     * application.properties does not bind, under Quarkus's environment naming
     * ({@code bastion.db.probe-timeout} is {@code BASTION_DB_PROBE_TIMEOUT}).
     */
    private static Map<String, String> knownVariables() {
        Map<String, String> variables = new TreeMap<>();
        Map<String, String> boundProperties = new HashMap<>();
        for (String line : lines(APPLICATION_PROPERTIES)) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("#") || trimmed.startsWith("!") || !trimmed.contains("=")) {
                continue;
            }
            String property = trimmed.substring(0, trimmed.indexOf('=')).strip();
            Matcher placeholder = PLACEHOLDER.matcher(trimmed.substring(trimmed.indexOf('=') + 1));
            while (placeholder.find()) {
                String name = placeholder.group(1);
                variables.putIfAbsent(name, placeholder.group(2) == null ? "" : placeholder.group(2).strip());
                boundProperties.putIfAbsent(property, name);
            }
        }
        assertFalse(variables.isEmpty(), "no ${VARIABLE:default} placeholder found in " + APPLICATION_PROPERTIES);
        for (MappedSetting setting : mappedSettings()) {
            if (!boundProperties.containsKey(setting.property())) {
                variables.putIfAbsent(environmentName(setting.property()), setting.defaultValue());
            }
        }
        return variables;
    }

    /** The abstract methods of every {@code @ConfigMapping} interface under src/main/java. */
    private static List<MappedSetting> mappedSettings() {
        List<MappedSetting> settings = new ArrayList<>();
        for (Class<?> mapping : configMappings()) {
            ConfigMapping annotation = mapping.getAnnotation(ConfigMapping.class);
            assertTrue(annotation != null, mapping + " has no @ConfigMapping at run time");
            Method[] methods = mapping.getDeclaredMethods();
            Arrays.sort(methods, (a, b) -> a.getName().compareTo(b.getName()));
            for (Method method : methods) {
                if (!Modifier.isAbstract(method.getModifiers()) || method.isSynthetic() || method.getParameterCount() > 0) {
                    continue; // derived values (default methods) and helpers are not settings
                }
                WithName name = method.getAnnotation(WithName.class);
                WithDefault defaultValue = method.getAnnotation(WithDefault.class);
                settings.add(new MappedSetting(annotation.prefix() + "." + (name != null ? name.value() : kebab(method.getName())),
                        defaultValue == null ? "" : defaultValue.value()));
            }
        }
        return settings;
    }

    private static List<Class<?>> configMappings() {
        List<Class<?>> mappings = new ArrayList<>();
        for (Path source : javaSources()) {
            if (read(source).contains("@ConfigMapping(")) {
                String relative = MAIN_JAVA.relativize(source).toString();
                String className = relative.substring(0, relative.length() - ".java".length())
                        .replace(source.getFileSystem().getSeparator(), ".");
                try {
                    mappings.add(Class.forName(className, false, DocsMatchCodeTest.class.getClassLoader()));
                } catch (ClassNotFoundException e) {
                    throw new AssertionError(className + " (" + source + ") is not on the test class path", e);
                }
            }
        }
        assertFalse(mappings.isEmpty(), "no @ConfigMapping found under " + MAIN_JAVA);
        return mappings;
    }

    /**
     * The names in a text that look like the service's own variables: DB_*, a config mapping's prefix
     * (BASTION_DB_*, ...), or the first word of a variable application.properties reads (IDEMPOTENCY_*,
     * HTTP_*, ...). A name ending in '_' (DB_*, DB_TCP_KEEPALIVE_*) stands for a family and is skipped.
     */
    private static Set<String> serviceVariablesIn(String text, Set<String> known) {
        Set<String> prefixes = new TreeSet<>();
        prefixes.add("DB_");
        for (Class<?> mapping : configMappings()) {
            prefixes.add(environmentName(mapping.getAnnotation(ConfigMapping.class).prefix()) + "_");
        }
        for (String name : known) {
            int underscore = name.indexOf('_');
            if (underscore > 0 && !name.startsWith("BASTION_")) { // BASTION_*: only the mappings' prefixes above
                prefixes.add(name.substring(0, underscore + 1));
            }
        }
        String alternatives = prefixes.stream().map(Pattern::quote).collect(Collectors.joining("|"));
        Matcher matcher = Pattern.compile("\\b(?:" + alternatives + ")[A-Z0-9_]*\\b").matcher(text);
        Set<String> found = new TreeSet<>();
        while (matcher.find()) {
            if (!matcher.group().endsWith("_")) {
                found.add(matcher.group());
            }
        }
        return found;
    }

    private static String environmentName(String property) {
        return property.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
    }

    private static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    }

    /** A row of docs/configuration.md's variable tables: its Default and Range cells. */
    private record VariableRow(String defaultCell, String rangeCell) {
    }

    /** The rows of docs/configuration.md's variable tables, by variable (one variable per row). */
    private static Map<String, VariableRow> configurationRows() {
        return variableRows(CONFIGURATION, true);
    }

    /**
     * The rows of a document's variable tables (first column "Variable"), by variable: one variable per
     * row, each a Default column, and a Range column when {@code rangeRequired}.
     */
    private static Map<String, VariableRow> variableRows(Path document, boolean rangeRequired) {
        List<Table> tables = tables(document, VARIABLE_COLUMN);
        assertFalse(tables.isEmpty(), document + " has no table whose first column is '" + VARIABLE_COLUMN + "'");
        Map<String, VariableRow> rows = new TreeMap<>();
        List<String> problems = new ArrayList<>();
        for (Table table : tables) {
            int defaults = table.column(DEFAULT_COLUMN);
            int ranges = table.column(RANGE_COLUMN);
            if (defaults < 0 || rangeRequired && ranges < 0) {
                problems.add("a table without '" + DEFAULT_COLUMN + "'" + (rangeRequired ? " and '" + RANGE_COLUMN + "'" : "")
                        + " columns: " + table.header());
                continue;
            }
            for (List<String> row : table.rows()) {
                List<String> names = codeSpans(row.get(0)).stream()
                        .filter(span -> ENV_NAME.matcher(span).matches())
                        .toList();
                if (names.size() != 1) {
                    problems.add("one variable per row, found " + names + " in '" + row.get(0) + "'");
                    continue;
                }
                VariableRow cells = new VariableRow(defaults < row.size() ? row.get(defaults) : "",
                        ranges >= 0 && ranges < row.size() ? row.get(ranges) : "");
                if (rows.put(names.get(0), cells) != null) {
                    problems.add(names.get(0) + " has more than one row");
                }
            }
        }
        assertTrue(problems.isEmpty(), document + ":\n  " + String.join("\n  ", problems));
        return rows;
    }

    /** The first word of a cell, without code marks: "`30`, or ..." is 30. */
    private static String firstToken(String cell) {
        String plain = cell.replace("`", "").strip();
        String[] words = plain.split("[\\s,;]+", 2);
        return words.length == 0 ? "" : words[0];
    }

    // ------------------------------------------------------------------------------------------------
    // what the code registers
    // ------------------------------------------------------------------------------------------------

    /** How Micrometer's Prometheus registry names the series of a meter. */
    private enum MeterType {
        GAUGE, COUNTER, TIMER, SUMMARY;

        static MeterType of(String builder) {
            return switch (builder) {
                case "Gauge", "TimeGauge", "gauge" -> GAUGE;
                case "Counter", "FunctionCounter", "counter" -> COUNTER;
                case "Timer", "FunctionTimer", "LongTaskTimer", "timer" -> TIMER;
                default -> SUMMARY;
            };
        }

        /** The series a metrics table row must name. */
        String primarySeries(String base) {
            return switch (this) {
                case GAUGE -> base;
                case COUNTER -> base + "_total";
                case TIMER -> base + "_seconds_count";
                case SUMMARY -> base + "_count";
            };
        }

        /** Every name the documents may use for it. */
        List<String> series(String base) {
            return switch (this) {
                case GAUGE -> List.of(base);
                case COUNTER -> List.of(base + "_total");
                case TIMER -> List.of(base + "_seconds", base + "_seconds_count", base + "_seconds_sum",
                        base + "_seconds_bucket", base + "_seconds_max");
                case SUMMARY -> List.of(base, base + "_count", base + "_sum", base + "_bucket", base + "_max");
            };
        }
    }

    /** Every bastion.db.* meter registered under src/main/java, by name. */
    private static Map<String, MeterType> registeredMeters() {
        Map<String, MeterType> meters = new TreeMap<>();
        for (Path source : javaSources()) {
            String text = read(source);
            Matcher builder = METER_BUILDER.matcher(text);
            while (builder.find()) {
                meters.put(builder.group(2), MeterType.of(builder.group(1)));
            }
            Matcher helper = COUNT_HELPER.matcher(text);
            while (helper.find()) {
                meters.put(helper.group(1), MeterType.COUNTER);
            }
            Matcher shortcut = REGISTRY_SHORTCUT.matcher(text);
            while (shortcut.find()) {
                meters.put(shortcut.group(2), MeterType.of(shortcut.group(1)));
            }
            Map<String, String> constants = new HashMap<>();
            Matcher constant = NAME_CONSTANT.matcher(text);
            while (constant.find()) {
                constants.put(constant.group(1), constant.group(2));
            }
            Matcher byConstant = BY_CONSTANT.matcher(text);
            while (byConstant.find()) {
                String name = constants.get(byConstant.group(2));
                if (name != null) {
                    meters.put(name, byConstant.group(1).equals("count") ? MeterType.COUNTER : MeterType.of(byConstant.group(1)));
                }
            }
        }
        return meters;
    }

    private static String prometheusBase(String meter) {
        return meter.replace('.', '_');
    }

    // ------------------------------------------------------------------------------------------------
    // markdown
    // ------------------------------------------------------------------------------------------------

    /** A markdown table: its header cells and its rows' cells. */
    private record Table(List<String> header, List<List<String>> rows) {

        int column(String prefix) {
            for (int i = 0; i < header.size(); i++) {
                if (header.get(i).startsWith(prefix)) {
                    return i;
                }
            }
            return -1;
        }
    }

    /** The status and retried cells of a failure-model row, in that order. */
    private static List<String> cellsByHeader(Table table, List<String> row) {
        int status = table.column(STATUS_COLUMN);
        int retried = table.column(RETRIED_COLUMN);
        assertTrue(status >= 0 && retried >= 0, FAILURE_MODEL + ": the kinds' table needs '" + STATUS_COLUMN + "' and '"
                + RETRIED_COLUMN + "...' columns, has " + table.header());
        return List.of(status < row.size() ? row.get(status) : "", retried < row.size() ? row.get(retried) : "");
    }

    /** The tables of a document whose first header cell is {@code firstColumn}. */
    private static List<Table> tables(Path document, String firstColumn) {
        List<String> lines = lines(document);
        List<Table> tables = new ArrayList<>();
        boolean fenced = false;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.startsWith("```")) {
                fenced = !fenced;
                continue;
            }
            if (fenced || !line.startsWith("|") || i + 1 >= lines.size()
                    || !TABLE_SEPARATOR.matcher(lines.get(i + 1).strip()).matches()) {
                continue;
            }
            List<String> header = cells(line);
            List<List<String>> rows = new ArrayList<>();
            int next = i + 2;
            while (next < lines.size() && lines.get(next).strip().startsWith("|")) {
                rows.add(cells(lines.get(next).strip()));
                next++;
            }
            if (!header.isEmpty() && header.get(0).equals(firstColumn)) {
                tables.add(new Table(header, rows));
            }
            i = next - 1;
        }
        return tables;
    }

    private static List<String> cells(String row) {
        String inner = row.strip();
        if (inner.startsWith("|")) {
            inner = inner.substring(1);
        }
        if (inner.endsWith("|")) {
            inner = inner.substring(0, inner.length() - 1);
        }
        return Arrays.stream(inner.split("\\|", -1)).map(String::strip).toList();
    }

    private static List<String> codeSpans(String text) {
        List<String> spans = new ArrayList<>();
        Matcher span = CODE_SPAN.matcher(text);
        while (span.find()) {
            spans.add(span.group(1).strip());
        }
        return spans;
    }

    /** Link and image targets outside fenced code blocks. */
    private static List<String> links(String markdown) {
        List<String> targets = new ArrayList<>();
        boolean fenced = false;
        for (String line : markdown.split("\n", -1)) {
            if (line.strip().startsWith("```")) {
                fenced = !fenced;
                continue;
            }
            if (fenced) {
                continue;
            }
            Matcher link = LINK.matcher(line.replaceAll("`[^`]*`", ""));
            while (link.find()) {
                targets.add(link.group(1));
            }
        }
        return targets;
    }

    /** The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as hyphens. */
    private static Set<String> anchors(String markdown) {
        Set<String> anchors = new TreeSet<>();
        Map<String, Integer> seen = new HashMap<>();
        boolean fenced = false;
        for (String line : markdown.split("\n", -1)) {
            if (line.strip().startsWith("```")) {
                fenced = !fenced;
                continue;
            }
            Matcher heading = HEADING.matcher(line);
            if (fenced || !heading.matches()) {
                continue;
            }
            String slug = heading.group(2).toLowerCase(Locale.ROOT)
                    .replaceAll("[^\\p{L}\\p{N}\\p{M} _-]", "")
                    .replace(' ', '-');
            int count = seen.merge(slug, 1, Integer::sum);
            anchors.add(count == 1 ? slug : slug + "-" + (count - 1));
        }
        return anchors;
    }

    // ------------------------------------------------------------------------------------------------
    // files
    // ------------------------------------------------------------------------------------------------

    /** README.md, every docs/*.md and k8s/README.md. */
    private static List<Path> documents() {
        List<Path> documents = new ArrayList<>();
        documents.add(README);
        try (Stream<Path> files = Files.list(DOCS)) {
            files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(documents::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (Files.exists(K8S_README)) {
            documents.add(K8S_README);
        }
        return documents;
    }

    private static List<Path> javaSources() {
        try (Stream<Path> files = Files.walk(MAIN_JAVA)) {
            return files.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> lines(Path file) {
        return Arrays.asList(read(file).split("\r?\n", -1));
    }
}
