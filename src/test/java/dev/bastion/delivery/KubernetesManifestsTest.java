package dev.bastion.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Checks the manifests in k8s/ against each other, against the typed Kubernetes model and against what
 * the service actually reads (application.properties) and exports (metric names). Runs from the
 * project root, like every Maven test.
 */
class KubernetesManifestsTest {

    private static final Path K8S = Path.of("k8s");
    private static final Path KUSTOMIZATION = K8S.resolve("kustomization.yaml");
    /** Placeholder credentials: kept as a template, never applied by the kustomization. */
    private static final String SECRET_TEMPLATE = "secret.example.yaml";
    private static final Path DASHBOARD = K8S.resolve("grafana-dashboard.json");
    private static final Path APPLICATION_PROPERTIES = Path.of("src/main/resources/application.properties");

    private static final String APP_CONTAINER = "bastion";
    private static final int HTTP_PORT = 8080;
    /** Quarkus's management interface: health, metrics, OpenAPI. Never the API port. */
    private static final int MANAGEMENT_PORT = 9000;
    /** The request deadline (DB_REQUEST_TIMEOUT's default): shutdown must let such a request finish. */
    private static final int DEFAULT_REQUEST_DEADLINE_SECONDS = 30;

    /** Namespaces the NetworkPolicy admits, by their kubernetes.io/metadata.name label. */
    private static final String NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
    private static final String INGRESS_NAMESPACE = "ingress-nginx";
    private static final String MONITORING_NAMESPACE = "monitoring";

    /** MicroProfile JWT's maximum token age (seconds since iat), and the most the ConfigMap may allow. */
    private static final String TOKEN_AGE_PROPERTY = "mp.jwt.verify.token.age";
    private static final long MAX_TOKEN_AGE_SECONDS = 3600;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final KubernetesSerialization KUBERNETES = new KubernetesSerialization();

    /** Built-in kinds expected in k8s/, with the typed model class and the apiVersion each must use. */
    private static final Map<String, Class<? extends HasMetadata>> TYPED_KINDS = Map.of(
            "Deployment", Deployment.class,
            "Service", Service.class,
            "ConfigMap", ConfigMap.class,
            "Secret", Secret.class,
            "HorizontalPodAutoscaler", HorizontalPodAutoscaler.class,
            "PodDisruptionBudget", PodDisruptionBudget.class,
            "NetworkPolicy", NetworkPolicy.class,
            "Job", Job.class);
    private static final Map<String, String> API_VERSIONS = Map.of(
            "Deployment", "apps/v1",
            "Service", "v1",
            "ConfigMap", "v1",
            "Secret", "v1",
            "HorizontalPodAutoscaler", "autoscaling/v2",
            "PodDisruptionBudget", "policy/v1",
            "NetworkPolicy", "networking.k8s.io/v1",
            "Job", "batch/v1");
    /** Prometheus Operator kinds: no typed model on the classpath, parsed generically. */
    private static final Set<String> MONITORING_KINDS = Set.of("ServiceMonitor", "PrometheusRule");
    private static final String MONITORING_API_VERSION = "monitoring.coreos.com/v1";

    /** Series the service exports (README of the service); alerts and panels may use no others. */
    private static final Set<String> EXPORTED_SERIES = Set.of(
            "sql_pool_active", "sql_pool_idle", "sql_pool_queue_size", "sql_pool_ratio", "sql_pool_rejected_total",
            "sql_pool_queue_delay_seconds_count", "sql_pool_queue_delay_seconds_sum",
            "sql_pool_queue_delay_seconds_bucket", "sql_pool_queue_delay_seconds_max",
            "bastion_db_transactions_seconds_count", "bastion_db_transactions_seconds_sum",
            "bastion_db_transactions_seconds_bucket", "bastion_db_transactions_seconds_max",
            "bastion_db_retries_total", "bastion_db_deadlocks_total", "bastion_db_constraint_violations_total",
            "bastion_db_circuit_breaker_state", "bastion_db_slow_transactions_total",
            "bastion_db_admission_waiting", "bastion_db_admission_parked", "bastion_db_admission_parked_seconds_total",
            "bastion_db_row_waiting", "bastion_db_pool_connection_limit",
            "bastion_db_held_lock_refusals_total",
            "bastion_db_admission_refusals_total", "bastion_db_admission_shared_reads_total", "bastion_db_pool_connections",
            "bastion_db_writer_changes_total",
            "bastion_db_split_brain", "bastion_db_retries_over_budget_total", "bastion_db_unreplicated_commits_total",
            "bastion_db_logins_refused_total",
            "http_server_requests_seconds_count", "http_server_requests_seconds_sum",
            "http_server_requests_seconds_bucket", "http_server_requests_seconds_max");
    private static final Pattern SERVICE_SERIES = Pattern.compile(
            "\\b((?:sql_pool|bastion_db|http_server_requests)_[a-z_]+)\\b");

    private static final Pattern DB_VARIABLE = Pattern.compile("\\$\\{(DB_[A-Z_]+)");
    private static final Pattern ANY_VARIABLE = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)");

    /** One YAML document of a file in k8s/. */
    private record Doc(Path file, Map<String, Object> raw) {

        String kind() {
            return (String) raw.get("kind");
        }

        String apiVersion() {
            return (String) raw.get("apiVersion");
        }

        String name() {
            Object metadata = raw.get("metadata");
            return metadata instanceof Map<?, ?> m ? (String) m.get("name") : null;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // every document
    // ------------------------------------------------------------------------------------------------

    @Test
    void everyDocumentParsesIntoTheModelOfItsKind() {
        List<Doc> docs = documents();
        assertFalse(docs.isEmpty(), "no Kubernetes documents found under " + K8S.toAbsolutePath());
        Set<String> kinds = new TreeSet<>();
        for (Doc doc : docs) {
            String where = doc.file() + " (" + doc.kind() + " " + doc.name() + ")";
            assertNotNull(doc.kind(), doc.file() + ": a document without kind");
            assertNotNull(doc.apiVersion(), where + ": no apiVersion");
            assertNotNull(doc.name(), where + ": no metadata.name");
            kinds.add(doc.kind());

            Class<? extends HasMetadata> type = TYPED_KINDS.get(doc.kind());
            if (type != null) {
                HasMetadata resource = typed(doc, type);
                assertInstanceOf(type, resource, where);
                assertEquals(HasMetadata.getKind(type), resource.getKind(), where + ": kind does not match the model");
                assertEquals(modelApiVersion(type), resource.getApiVersion(),
                        where + ": apiVersion does not match " + type.getName());
                assertEquals(API_VERSIONS.get(doc.kind()), resource.getApiVersion(), where);
                assertEquals(doc.name(), resource.getMetadata().getName(), where);
            } else if (MONITORING_KINDS.contains(doc.kind())) {
                GenericKubernetesResource resource = typed(doc, GenericKubernetesResource.class);
                assertEquals(MONITORING_API_VERSION, resource.getApiVersion(), where);
                assertEquals(doc.kind(), resource.getKind(), where);
                assertNotNull(resource.getAdditionalProperties().get("spec"), where + ": no spec");
            } else {
                fail(where + ": unexpected kind; add it to this test");
            }
        }
        Set<String> expected = new TreeSet<>(TYPED_KINDS.keySet());
        expected.addAll(MONITORING_KINDS);
        assertEquals(expected, kinds, "k8s/ must hold exactly these kinds");
    }

    // ------------------------------------------------------------------------------------------------
    // Deployment
    // ------------------------------------------------------------------------------------------------

    @Test
    void probesUseTheQuarkusHealthEndpointsOnTheManagementPort() {
        Container container = appContainer(single(Deployment.class));

        assertEquals(HTTP_PORT, resolvePort(new IntOrString("http"), container), "container port http");
        assertEquals(MANAGEMENT_PORT, resolvePort(new IntOrString("management"), container), "container port management");

        assertProbe("startup", container.getStartupProbe(), "/q/health/started", container);
        assertProbe("liveness", container.getLivenessProbe(), "/q/health/live", container);
        assertProbe("readiness", container.getReadinessProbe(), "/q/health/ready", container);
    }

    @Test
    void deploymentIsReplicatedAndSpread() {
        Deployment deployment = single(Deployment.class);
        var spec = deployment.getSpec();
        assertNotNull(spec.getReplicas(), "replicas must be explicit");
        assertTrue(spec.getReplicas() >= 2, "at least 2 replicas, was " + spec.getReplicas());

        var podSpec = spec.getTemplate().getSpec();
        Long grace = podSpec.getTerminationGracePeriodSeconds();
        assertNotNull(grace, "terminationGracePeriodSeconds must be set");
        assertTrue(grace > 0, "terminationGracePeriodSeconds must be positive");

        boolean spread = podSpec.getTopologySpreadConstraints() != null
                && !podSpec.getTopologySpreadConstraints().isEmpty();
        boolean antiAffinity = podSpec.getAffinity() != null && podSpec.getAffinity().getPodAntiAffinity() != null;
        assertTrue(spread || antiAffinity, "pods must be spread: topologySpreadConstraints or podAntiAffinity");

        Map<String, String> podLabels = spec.getTemplate().getMetadata().getLabels();
        assertSubset(spec.getSelector().getMatchLabels(), podLabels, "Deployment selector");
    }

    @Test
    void shutdownOutlastsTheRequestDeadlineAndPreStopNeedsNoBinaryInTheImage() throws IOException {
        Deployment deployment = single(Deployment.class);
        Container container = appContainer(deployment);

        // the native-micro image has no sleep (nor any other) binary: no exec hooks, only the kubelet's sleep
        var lifecycle = container.getLifecycle();
        assertNotNull(lifecycle, "container lifecycle missing: the preStop hook is required");
        assertTrue(lifecycle.getPostStart() == null || lifecycle.getPostStart().getExec() == null,
                "postStart must not exec a binary: the native-micro image has none");
        long preStopSeconds = preStopSleepSeconds(container);
        for (Probe probe : new Probe[] {container.getStartupProbe(), container.getLivenessProbe(), container.getReadinessProbe()}) {
            assertTrue(probe == null || probe.getExec() == null, "probes must not exec a binary");
        }

        long shutdownSeconds = shutdownTimeoutSeconds(container);
        long requestDeadline = configMapValue("DB_REQUEST_TIMEOUT").map(Long::parseLong).orElse((long) DEFAULT_REQUEST_DEADLINE_SECONDS);
        assertTrue(shutdownSeconds > requestDeadline, "the shutdown timeout (" + shutdownSeconds
                + " s) must exceed the request deadline (" + requestDeadline + " s), or requests are cut off");
        long grace = deployment.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds();
        assertTrue(grace >= preStopSeconds + shutdownSeconds + 5, "terminationGracePeriodSeconds " + grace
                + " must cover preStop (" + preStopSeconds + " s) + shutdown (" + shutdownSeconds + " s) + a margin");
    }

    @Test
    void preStopHookKeepsThePodServingWhileItsEndpointIsRemoved() {
        // Without it, Quarkus stops accepting at SIGTERM while kube-proxy and the ingress controller still
        // route requests to the pod: they fail until the endpoint removal has propagated.
        long seconds = preStopSleepSeconds(appContainer(single(Deployment.class)));
        assertTrue(seconds >= 3, "preStop sleep of " + seconds + " s is too short for the endpoint removal to propagate");
    }

    /** The preStop hook's sleep, which must exist: a sleep action done by the kubelet, no exec. */
    private static long preStopSleepSeconds(Container container) {
        var lifecycle = container.getLifecycle();
        assertNotNull(lifecycle, "container lifecycle missing: the preStop hook is required");
        var preStop = lifecycle.getPreStop();
        assertNotNull(preStop, "preStop hook missing: requests still routed to a terminating pod would fail");
        assertNull(preStop.getExec(), "preStop must not exec a binary (native-micro has no sleep): use the sleep action");
        assertNull(preStop.getHttpGet(), "preStop: the sleep action, not an HTTP call");
        assertNotNull(preStop.getSleep(), "preStop: the sleep action is the only hook every image supports");
        assertNotNull(preStop.getSleep().getSeconds(), "preStop sleep without seconds");
        long seconds = preStop.getSleep().getSeconds();
        assertTrue(seconds > 0 && seconds <= 15, "preStop sleep of " + seconds + " s");
        return seconds;
    }

    /** QUARKUS_SHUTDOWN_TIMEOUT from the container or its ConfigMap, else quarkus.shutdown.timeout of the application. */
    private static long shutdownTimeoutSeconds(Container container) throws IOException {
        Optional<String> fromEnv = container.getEnv() == null ? Optional.empty() : container.getEnv().stream()
                .filter(e -> "QUARKUS_SHUTDOWN_TIMEOUT".equals(e.getName())).map(e -> e.getValue()).findFirst();
        String value = fromEnv.or(() -> configMapValue("QUARKUS_SHUTDOWN_TIMEOUT"))
                .orElseGet(() -> {
                    Matcher m = Pattern.compile("(?m)^quarkus\\.shutdown\\.timeout=(\\S+)$").matcher(readProperties());
                    assertTrue(m.find(), "quarkus.shutdown.timeout is not set: Quarkus would not wait for requests at all");
                    return m.group(1);
                });
        Matcher duration = Pattern.compile("(?i)(?:PT)?(\\d+)S?").matcher(value.trim());
        assertTrue(duration.matches(), "shutdown timeout in seconds expected, was " + value);
        return Long.parseLong(duration.group(1));
    }

    private static String readProperties() {
        try {
            return Files.readString(APPLICATION_PROPERTIES);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Optional<String> configMapValue(String key) {
        return documents().stream().filter(d -> "ConfigMap".equals(d.kind()))
                .map(d -> typed(d, ConfigMap.class).getData())
                .filter(Objects::nonNull)
                .map(data -> data.get(key))
                .filter(Objects::nonNull)
                .findFirst();
    }

    @Test
    void containerRunsNonRootOnAReadOnlyRootFilesystem() {
        Deployment deployment = single(Deployment.class);
        var podSpec = deployment.getSpec().getTemplate().getSpec();
        var podSecurity = podSpec.getSecurityContext();
        Container container = appContainer(deployment);
        var security = container.getSecurityContext();
        assertNotNull(security, "container securityContext missing");

        Boolean nonRoot = security.getRunAsNonRoot() != null ? security.getRunAsNonRoot()
                : podSecurity == null ? null : podSecurity.getRunAsNonRoot();
        assertEquals(Boolean.TRUE, nonRoot, "runAsNonRoot");
        Long user = security.getRunAsUser() != null ? security.getRunAsUser()
                : podSecurity == null ? null : podSecurity.getRunAsUser();
        assertEquals(Long.valueOf(1001), user, "runAsUser must match USER 1001 of the images");

        assertEquals(Boolean.TRUE, security.getReadOnlyRootFilesystem(), "readOnlyRootFilesystem");
        assertEquals(Boolean.FALSE, security.getAllowPrivilegeEscalation(), "allowPrivilegeEscalation");
        assertNotNull(security.getCapabilities(), "capabilities");
        assertTrue(security.getCapabilities().getDrop().contains("ALL"), "capabilities must drop ALL");

        // a read-only root filesystem needs a writable /tmp (JVM, Vert.x file cache)
        String tmpVolume = container.getVolumeMounts().stream()
                .filter(m -> "/tmp".equals(m.getMountPath()))
                .map(m -> m.getName())
                .findFirst()
                .orElseThrow(() -> new AssertionError("nothing mounted at /tmp"));
        var volume = podSpec.getVolumes().stream()
                .filter(v -> tmpVolume.equals(v.getName()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + tmpVolume));
        assertNotNull(volume.getEmptyDir(), "/tmp must be an emptyDir");
    }

    @Test
    void podKeepaliveSysctlsMatchTheDatabaseKeepaliveSettings() {
        Deployment deployment = single(Deployment.class);
        Map<String, String> sysctls = new java.util.HashMap<>();
        deployment.getSpec().getTemplate().getSpec().getSecurityContext().getSysctls()
                .forEach(sysctl -> sysctls.put(sysctl.getName(), sysctl.getValue()));
        Map<String, String> config = named(ConfigMap.class, "bastion-config").getData();
        assertEquals(config.get("DB_TCP_KEEPALIVE_IDLE"), sysctls.get("net.ipv4.tcp_keepalive_time"));
        assertEquals(config.get("DB_TCP_KEEPALIVE_INTERVAL"), sysctls.get("net.ipv4.tcp_keepalive_intvl"));
        assertEquals(config.get("DB_TCP_KEEPALIVE_COUNT"), sysctls.get("net.ipv4.tcp_keepalive_probes"));
    }

    @Test
    void resourceRequestsAndLimitsAreSetAndConsistent() {
        var resources = appContainer(single(Deployment.class)).getResources();
        assertNotNull(resources, "resources missing");
        Map<String, Quantity> requests = resources.getRequests();
        Map<String, Quantity> limits = resources.getLimits();
        for (String resource : List.of("cpu", "memory")) {
            assertNotNull(requests.get(resource), "requests." + resource);
            assertNotNull(limits.get(resource), "limits." + resource);
            assertTrue(requests.get(resource).getNumericalAmount().compareTo(limits.get(resource).getNumericalAmount()) <= 0,
                    resource + ": request above limit");
        }
    }

    @Test
    void exactlyOneScrapeMechanism() {
        Deployment deployment = single(Deployment.class);
        Service service = single(Service.class);
        Map<String, Map<String, String>> annotated = new LinkedHashMap<>();
        annotated.put("Deployment", deployment.getMetadata().getAnnotations());
        annotated.put("pod template", deployment.getSpec().getTemplate().getMetadata().getAnnotations());
        annotated.put("Service", service.getMetadata().getAnnotations());

        boolean serviceMonitorApplied = kustomizationResources().stream()
                .flatMap(file -> loadAll(K8S.resolve(file)).stream())
                .anyMatch(raw -> "ServiceMonitor".equals(raw.get("kind")));
        if (serviceMonitorApplied) {
            annotated.forEach((where, annotations) -> {
                Set<String> scrape = annotations == null ? Set.of() : annotations.keySet().stream()
                        .filter(key -> key.startsWith("prometheus.io/")).collect(Collectors.toCollection(TreeSet::new));
                assertTrue(scrape.isEmpty(), where + " carries " + scrape + " while the kustomization applies a "
                        + "ServiceMonitor: annotation-based scraping on top would collect every series twice");
            });
        } else {
            Map<String, String> annotations = annotated.get("pod template");
            assertNotNull(annotations, "no ServiceMonitor applied and no scrape annotations: nothing scrapes /q/metrics");
            assertEquals("true", annotations.get("prometheus.io/scrape"));
            assertEquals("/q/metrics", annotations.get("prometheus.io/path"));
            assertEquals(String.valueOf(MANAGEMENT_PORT), annotations.get("prometheus.io/port"),
                    "/q/metrics is served on the management port only");
        }
    }

    // ------------------------------------------------------------------------------------------------
    // configuration
    // ------------------------------------------------------------------------------------------------

    @Test
    void everyVariableTheApplicationReadsIsProvidedThroughEnvFrom() throws IOException {
        String properties = Files.readString(APPLICATION_PROPERTIES);
        Set<String> dbVariables = matches(DB_VARIABLE, properties);
        assertFalse(dbVariables.isEmpty(), "no ${DB_...} found in " + APPLICATION_PROPERTIES);

        Container container = appContainer(single(Deployment.class));
        List<EnvFromSource> envFrom = container.getEnvFrom();
        assertNotNull(envFrom, "container has no envFrom");
        Set<String> configMapNames = envFrom.stream().filter(e -> e.getConfigMapRef() != null)
                .map(e -> e.getConfigMapRef().getName()).collect(Collectors.toSet());
        Set<String> secretNames = envFrom.stream().filter(e -> e.getSecretRef() != null)
                .map(e -> e.getSecretRef().getName()).collect(Collectors.toSet());
        assertFalse(configMapNames.isEmpty(), "envFrom references no ConfigMap");

        Set<String> fromConfigMaps = new LinkedHashSet<>();
        for (String name : configMapNames) {
            ConfigMap configMap = named(ConfigMap.class, name);
            assertNotNull(configMap.getData(), "ConfigMap " + name + " has no data");
            fromConfigMaps.addAll(configMap.getData().keySet());
        }
        Set<String> fromSecrets = new LinkedHashSet<>();
        for (String name : secretNames) {
            Secret secret = named(Secret.class, name);
            assertEquals("Opaque", secret.getType(), "Secret " + name + " type");
            if (secret.getStringData() != null) {
                fromSecrets.addAll(secret.getStringData().keySet());
            }
            if (secret.getData() != null) {
                fromSecrets.addAll(secret.getData().keySet());
            }
        }
        Set<String> provided = new LinkedHashSet<>(fromConfigMaps);
        provided.addAll(fromSecrets);
        // the credentials come from files of the Secret volume, read for every new connection (rotation
        // without a restart): DB_USERNAME / DB_PASSWORD are provided when their *_FILE points into it
        Map<String, String> configData = new HashMap<>();
        configMapNames.forEach(name -> configData.putAll(named(ConfigMap.class, name).getData()));
        String mountPath = secretVolumeMount(container, "bastion-db");
        Set<String> fromSecretFiles = new LinkedHashSet<>();
        for (String credential : List.of("DB_USERNAME", "DB_PASSWORD")) {
            assertEquals(mountPath + "/" + credential, configData.get(credential + "_FILE"),
                    credential + "_FILE must name the " + credential + " key of the mounted Secret");
            fromSecretFiles.add(credential);
        }
        provided.addAll(fromSecretFiles);

        Set<String> missingDb = new TreeSet<>(dbVariables);
        missingDb.removeAll(provided);
        assertTrue(missingDb.isEmpty(), "DB variables read by application.properties but not provided: " + missingDb);

        Set<String> missingAny = matches(ANY_VARIABLE, properties);
        missingAny.removeAll(provided);
        assertTrue(missingAny.isEmpty(), "variables read by application.properties but not provided: " + missingAny);

        for (String credential : List.of("DB_USERNAME", "DB_PASSWORD")) {
            assertTrue(fromSecrets.contains(credential) || fromSecretFiles.contains(credential),
                    credential + " belongs in the Secret");
            assertFalse(fromConfigMaps.contains(credential), credential + " must not be in a ConfigMap");
        }
        for (String jwt : List.of("MP_JWT_VERIFY_PUBLICKEY_LOCATION", "MP_JWT_VERIFY_ISSUER")) {
            assertTrue(provided.contains(jwt), jwt + " must be provided for the admin endpoints");
        }
        for (String name : configMapNames) {
            String port = named(ConfigMap.class, name).getData().get("PORT");
            if (port != null) {
                assertEquals(String.valueOf(HTTP_PORT), port, "PORT must match the container port");
            }
            String management = named(ConfigMap.class, name).getData().get("MANAGEMENT_PORT");
            if (management != null) {
                assertEquals(String.valueOf(MANAGEMENT_PORT), management, "MANAGEMENT_PORT must match the container port");
            }
        }
    }

    // ------------------------------------------------------------------------------------------------
    // the migration Job
    // ------------------------------------------------------------------------------------------------

    @Test
    void schemaMigratesOnceByAJobOfTheSameImageAndTheServingPodsDoNot() {
        Deployment deployment = single(Deployment.class);
        Job job = single(Job.class);
        Container serving = appContainer(deployment);
        List<Container> containers = job.getSpec().getTemplate().getSpec().getContainers();
        assertEquals(1, containers.size(), "one container in the migration Job");
        Container migrate = containers.get(0);
        assertEquals(serving.getImage(), migrate.getImage(), "the Job runs the release's own image (its migrations)");

        Map<String, String> config = named(ConfigMap.class, "bastion-config").getData();
        assertEquals("false", config.get("DB_MIGRATE_AT_START"), "serving pods do not migrate");
        assertEquals("false", config.get("DB_MIGRATE_ONLY"));
        assertEquals(List.of("bastion-config"), migrate.getEnvFrom().stream().map(e -> e.getConfigMapRef().getName()).toList(),
                "the Job reaches the database as the pods do");
        assertEquals("true", migrate.getEnv().stream().filter(e -> e.getName().equals("DB_MIGRATE_ONLY")).findFirst()
                .orElseThrow(() -> new AssertionError("the Job must set DB_MIGRATE_ONLY")).getValue(), "migrate, then exit");
        assertEquals("Never", job.getSpec().getTemplate().getSpec().getRestartPolicy());
        assertNotNull(job.getSpec().getBackoffLimit(), "bounded retries");
        assertNotNull(job.getSpec().getActiveDeadlineSeconds(), "bounded time");

        // its own credentials (the schema owner) at the path the ConfigMap's *_FILE variables name
        var credentials = job.getSpec().getTemplate().getSpec().getVolumes().stream()
                .filter(v -> v.getSecret() != null).findFirst().orElseThrow();
        assertEquals("bastion-db-migrator", credentials.getSecret().getSecretName());
        String mountPath = migrate.getVolumeMounts().stream().filter(m -> m.getName().equals(credentials.getName()))
                .findFirst().orElseThrow().getMountPath();
        assertEquals(mountPath + "/DB_PASSWORD", config.get("DB_PASSWORD_FILE"));

        // never selected by the API's Service, PDB or NetworkPolicy: it takes no traffic
        Map<String, String> jobLabels = job.getSpec().getTemplate().getMetadata().getLabels();
        deployment.getSpec().getSelector().getMatchLabels().forEach((key, value) ->
                assertFalse(value.equals(jobLabels.get(key)), "the Job's pod matches the API's selector on " + key));
        var security = migrate.getSecurityContext();
        assertEquals(Boolean.TRUE, security.getReadOnlyRootFilesystem());
        assertEquals(Boolean.FALSE, security.getAllowPrivilegeEscalation());
        assertEquals(Boolean.TRUE, job.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot());
    }

    // ------------------------------------------------------------------------------------------------
    // Service, HPA, PDB
    // ------------------------------------------------------------------------------------------------

    @Test
    void serviceTargetsTheContainerPort() {
        Deployment deployment = single(Deployment.class);
        Service service = single(Service.class);
        var spec = service.getSpec();
        assertEquals("ClusterIP", spec.getType());
        Map<String, ServicePort> ports = spec.getPorts().stream().collect(Collectors.toMap(ServicePort::getName, p -> p));
        assertEquals(Set.of("http", "management"), ports.keySet(), "service ports");
        assertEquals(80, ports.get("http").getPort());
        assertEquals(HTTP_PORT, resolvePort(ports.get("http").getTargetPort(), appContainer(deployment)), "Service http targetPort");
        assertEquals(MANAGEMENT_PORT, resolvePort(ports.get("management").getTargetPort(), appContainer(deployment)),
                "Service management targetPort");
        assertSubset(spec.getSelector(), deployment.getSpec().getTemplate().getMetadata().getLabels(), "Service selector");
    }

    @Test
    void autoscalerScalesTheDeploymentOnCpu() {
        Deployment deployment = single(Deployment.class);
        HorizontalPodAutoscaler hpa = single(HorizontalPodAutoscaler.class);
        var spec = hpa.getSpec();
        assertEquals(2, spec.getMinReplicas());
        assertEquals(10, spec.getMaxReplicas());
        assertEquals("Deployment", spec.getScaleTargetRef().getKind());
        assertEquals(deployment.getMetadata().getName(), spec.getScaleTargetRef().getName());
        assertTrue(spec.getMetrics().stream()
                        .anyMatch(m -> "Resource".equals(m.getType()) && "cpu".equals(m.getResource().getName())),
                "HPA must scale on CPU");
        assertTrue(spec.getMinReplicas() >= 2 && deployment.getSpec().getReplicas() >= spec.getMinReplicas(),
                "Deployment replicas must not be below the HPA minimum");
    }

    @Test
    void disruptionBudgetEvictsOnePodAtATime() {
        Deployment deployment = single(Deployment.class);
        PodDisruptionBudget pdb = single(PodDisruptionBudget.class);
        // minAvailable: 1 would let a drain evict all but one of the HPA's ten pods at once
        assertNull(pdb.getSpec().getMinAvailable(), "use maxUnavailable, not minAvailable");
        IntOrString maxUnavailable = pdb.getSpec().getMaxUnavailable();
        assertNotNull(maxUnavailable, "maxUnavailable");
        assertEquals(Integer.valueOf(1), maxUnavailable.getIntVal(), "maxUnavailable must be the integer 1");
        assertSubset(pdb.getSpec().getSelector().getMatchLabels(),
                deployment.getSpec().getTemplate().getMetadata().getLabels(), "PDB selector");
    }

    // ------------------------------------------------------------------------------------------------
    // NetworkPolicy
    // ------------------------------------------------------------------------------------------------

    @Test
    void networkPolicyAdmitsTheApiFromTheIngressControllerAndManagementFromMonitoringOnly() {
        Deployment deployment = single(Deployment.class);
        Container container = appContainer(deployment);
        NetworkPolicy policy = single(NetworkPolicy.class);
        var spec = policy.getSpec();
        assertSubset(spec.getPodSelector().getMatchLabels(), deployment.getSpec().getTemplate().getMetadata().getLabels(),
                "NetworkPolicy podSelector");
        assertNotNull(spec.getPolicyTypes(), "policyTypes must be explicit");
        assertTrue(spec.getPolicyTypes().contains("Ingress"), "the policy must restrict ingress");
        assertFalse(spec.getPolicyTypes().contains("Egress"),
                "egress stays unrestricted (DNS, PostgreSQL/PgBouncer, the JWKS URL; k8s/README.md)");

        // container port -> namespaces admitted to it
        Map<Integer, Set<String>> admitted = new TreeMap<>();
        assertFalse(spec.getIngress() == null || spec.getIngress().isEmpty(), "no ingress rules: nothing could reach the pods");
        for (NetworkPolicyIngressRule rule : spec.getIngress()) {
            // an empty from admits every source, empty ports every port
            assertFalse(rule.getFrom() == null || rule.getFrom().isEmpty(), "an ingress rule without from admits everyone");
            assertFalse(rule.getPorts() == null || rule.getPorts().isEmpty(), "an ingress rule without ports admits every port");
            Set<String> namespaces = new TreeSet<>();
            for (NetworkPolicyPeer peer : rule.getFrom()) {
                assertNull(peer.getIpBlock(), "ipBlock peers are not expected: " + peer);
                assertNull(peer.getPodSelector(), "peers select namespaces, not pods: " + peer);
                assertNotNull(peer.getNamespaceSelector(), "a peer without namespaceSelector: " + peer);
                assertTrue(peer.getNamespaceSelector().getMatchExpressions() == null
                        || peer.getNamespaceSelector().getMatchExpressions().isEmpty(), "namespaces by matchLabels only");
                Map<String, String> labels = peer.getNamespaceSelector().getMatchLabels();
                assertFalse(labels == null || labels.isEmpty(), "an empty namespaceSelector admits every namespace");
                assertEquals(Set.of(NAMESPACE_NAME_LABEL), labels.keySet(), "namespaces are selected by " + NAMESPACE_NAME_LABEL);
                namespaces.add(labels.get(NAMESPACE_NAME_LABEL));
            }
            for (NetworkPolicyPort port : rule.getPorts()) {
                assertTrue(port.getProtocol() == null || "TCP".equals(port.getProtocol()), "TCP only: " + port);
                assertNull(port.getEndPort(), "no port ranges: " + port);
                admitted.computeIfAbsent(resolvePort(port.getPort(), container), p -> new TreeSet<>()).addAll(namespaces);
            }
        }
        assertEquals(Map.of(HTTP_PORT, Set.of(INGRESS_NAMESPACE), MANAGEMENT_PORT, Set.of(MONITORING_NAMESPACE)), admitted,
                "the API port from the ingress controller's namespace only, the management port from monitoring only");
    }

    // ------------------------------------------------------------------------------------------------
    // admin tokens
    // ------------------------------------------------------------------------------------------------

    @Test
    void adminTokensHaveAMaximumAge() {
        // the environment variable SmallRye Config maps to mp.jwt.verify.token.age: a misspelt key is ignored silently
        String variable = TOKEN_AGE_PROPERTY.replaceAll("[^A-Za-z0-9]", "_").toUpperCase(Locale.ROOT);
        assertEquals("MP_JWT_VERIFY_TOKEN_AGE", variable);
        Container container = appContainer(single(Deployment.class));
        Optional<String> fromEnv = container.getEnv() == null ? Optional.empty() : container.getEnv().stream()
                .filter(e -> variable.equals(e.getName())).map(e -> e.getValue()).findFirst();
        String value = fromEnv.or(() -> configMapValue(variable)).orElseGet(() -> {
            Matcher m = Pattern.compile("(?m)^" + Pattern.quote(TOKEN_AGE_PROPERTY) + "=(\\S+)$").matcher(readProperties());
            assertTrue(m.find(), variable + " is not set (ConfigMap or container env), nor " + TOKEN_AGE_PROPERTY
                    + ": admin tokens would be accepted however old, up to their exp");
            return m.group(1);
        });
        assertTrue(value.trim().matches("\\d+"), variable + " must be a number of seconds, was " + value);
        long seconds = Long.parseLong(value.trim());
        assertTrue(seconds > 0 && seconds <= MAX_TOKEN_AGE_SECONDS,
                variable + " of " + seconds + " s: between 1 and " + MAX_TOKEN_AGE_SECONDS);
    }

    // ------------------------------------------------------------------------------------------------
    // monitoring
    // ------------------------------------------------------------------------------------------------

    @Test
    @SuppressWarnings("unchecked")
    void serviceMonitorScrapesMetricsOnTheHttpPort() {
        Service service = single(Service.class);
        GenericKubernetesResource monitor = generic("ServiceMonitor");
        Map<String, Object> spec = (Map<String, Object>) monitor.getAdditionalProperties().get("spec");
        Map<String, Object> selector = (Map<String, Object>) spec.get("selector");
        assertSubset((Map<String, String>) selector.get("matchLabels"), service.getMetadata().getLabels(),
                "ServiceMonitor selector");
        List<Map<String, Object>> endpoints = (List<Map<String, Object>>) spec.get("endpoints");
        assertFalse(endpoints == null || endpoints.isEmpty(), "ServiceMonitor has no endpoints");
        assertTrue(endpoints.stream().anyMatch(e -> "management".equals(e.get("port")) && "/q/metrics".equals(e.get("path"))),
                "ServiceMonitor must scrape /q/metrics on port management (it is not served on the API port)");
        assertTrue(service.getSpec().getPorts().stream().anyMatch(p -> "management".equals(p.getName())),
                "the Service port must be named management for the ServiceMonitor");
    }

    @Test
    @SuppressWarnings("unchecked")
    void prometheusRulesAlertOnTheServiceMetrics() {
        GenericKubernetesResource rules = generic("PrometheusRule");
        Map<String, Object> spec = (Map<String, Object>) rules.getAdditionalProperties().get("spec");
        List<Map<String, Object>> groups = (List<Map<String, Object>>) spec.get("groups");
        assertFalse(groups == null || groups.isEmpty(), "PrometheusRule has no groups");

        List<String> expressions = new ArrayList<>();
        Set<String> alertNames = new LinkedHashSet<>();
        for (Map<String, Object> group : groups) {
            assertNotNull(group.get("name"), "rule group without name");
            for (Map<String, Object> rule : (List<Map<String, Object>>) group.get("rules")) {
                String alert = (String) rule.get("alert");
                assertNotNull(alert, "rule without alert name in group " + group.get("name"));
                assertTrue(alertNames.add(alert), "duplicate alert " + alert);
                // an int-valued expr (e.g. `expr: 1`) is legal YAML but not what we want here
                assertInstanceOf(String.class, rule.get("expr"), alert + ": expr");
                String expr = ((String) rule.get("expr")).trim();
                assertFalse(expr.isEmpty(), alert + ": empty expr");
                assertBalanced(expr, alert);
                assertNotNull(rule.get("labels"), alert + ": no labels (severity)");
                assertNotNull(((Map<String, Object>) rule.get("labels")).get("severity"), alert + ": no severity");
                expressions.add(expr);
            }
        }
        assertOnlyExportedSeries(expressions, "PrometheusRule");

        assertAnyExpression(expressions, e -> e.contains("sql_pool_ratio") || e.contains("sql_pool_active"),
                "pool utilization");
        assertAnyExpression(expressions, e -> e.contains("sql_pool_queue_size"), "waiters queued");
        assertAnyExpression(expressions, e -> e.contains("bastion_db_deadlocks_total") && e.contains("rate("),
                "deadlock rate");
        assertAnyExpression(expressions, e -> e.matches("(?s).*bastion_db_circuit_breaker_state.*==\\s*2.*"),
                "circuit breaker open");
        assertAnyExpression(expressions, e -> e.contains("kube_pod_container_status_ready") || e.matches("(?s).*\\bup\\b.*"),
                "readiness failing");
        assertAnyExpression(expressions,
                e -> e.contains("http_server_requests_seconds_count") && e.contains("status=~\"5..\""), "5xx rate");
    }

    @Test
    void grafanaDashboardIsValidJsonWithPanelsForTheServiceMetrics() throws IOException {
        JsonNode dashboard = JSON.readTree(DASHBOARD.toFile());
        assertTrue(dashboard.path("schemaVersion").asInt() >= 36, "schemaVersion");
        assertFalse(dashboard.path("title").asText().isBlank(), "title");

        boolean prometheusVariable = false;
        for (JsonNode variable : dashboard.path("templating").path("list")) {
            if ("datasource".equals(variable.path("type").asText()) && "prometheus".equals(variable.path("query").asText())) {
                prometheusVariable = true;
            }
        }
        assertTrue(prometheusVariable, "a Prometheus data source variable is required");

        JsonNode panels = dashboard.path("panels");
        assertTrue(panels.isArray() && panels.size() > 0, "dashboard has no panels");
        Set<Integer> ids = new LinkedHashSet<>();
        List<String> expressions = new ArrayList<>();
        for (JsonNode panel : panels) {
            String title = panel.path("title").asText();
            assertFalse(title.isBlank(), "panel without title");
            assertTrue(ids.add(panel.path("id").asInt()), "duplicate panel id " + panel.path("id"));
            assertTrue(panel.has("gridPos"), title + ": no gridPos");
            if ("row".equals(panel.path("type").asText())) {
                continue;
            }
            JsonNode targets = panel.path("targets");
            assertTrue(targets.isArray() && targets.size() > 0, title + ": no queries");
            for (JsonNode target : targets) {
                String expr = target.path("expr").asText();
                assertFalse(expr.isBlank(), title + ": empty query");
                assertBalanced(expr, title);
                expressions.add(expr);
            }
        }
        assertOnlyExportedSeries(expressions, "dashboard");
        for (String series : List.of("sql_pool_active", "sql_pool_idle", "sql_pool_queue_size", "sql_pool_ratio",
                "http_server_requests_seconds_bucket", "bastion_db_retries_total", "bastion_db_deadlocks_total",
                "bastion_db_constraint_violations_total", "bastion_db_circuit_breaker_state",
                // the signals of the partial problems (docs/operations.md, incidents)
                "bastion_db_admission_waiting", "bastion_db_admission_refusals_total", "bastion_db_pool_connection_limit",
                "bastion_db_writer_changes_total", "bastion_db_split_brain", "bastion_db_retries_over_budget_total")) {
            assertAnyExpression(expressions, e -> e.contains(series), "a panel on " + series);
        }
        assertAnyExpression(expressions, e -> e.contains("histogram_quantile(0.5") && e.contains("http_server_requests"),
                "HTTP latency p50");
        assertAnyExpression(expressions, e -> e.contains("histogram_quantile(0.99") && e.contains("http_server_requests"),
                "HTTP latency p99");
        assertAnyExpression(expressions, e -> e.contains("status=~\"5..\""), "5xx rate");
    }

    // ------------------------------------------------------------------------------------------------
    // kustomization
    // ------------------------------------------------------------------------------------------------

    @Test
    void kustomizationListsEveryManifestButTheSecretTemplate() {
        Set<String> listed = new TreeSet<>();
        for (String resource : kustomizationResources()) {
            assertTrue(listed.add(resource), "listed twice: " + resource);
        }
        assertTrue(Files.exists(K8S.resolve(SECRET_TEMPLATE)), SECRET_TEMPLATE + " documents the Secret's keys: keep it");
        assertFalse(listed.contains(SECRET_TEMPLATE), SECRET_TEMPLATE + " must not be in kustomization.yaml: every "
                + "apply would overwrite the real credentials with its placeholders");
        Set<String> manifests = yamlFiles().stream()
                .filter(p -> !p.equals(KUSTOMIZATION))
                .map(p -> p.getFileName().toString())
                .filter(name -> !name.equals(SECRET_TEMPLATE))
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(manifests, listed, "kustomization.yaml must list every other YAML file in k8s/ except " + SECRET_TEMPLATE);
        for (String resource : listed) {
            for (Map<String, Object> raw : loadAll(K8S.resolve(resource))) {
                assertFalse("Secret".equals(raw.get("kind")), resource + ": the kustomization must apply no Secret "
                        + "(create bastion-db out of band, k8s/README.md)");
            }
        }
    }

    /** The resources: entries of kustomization.yaml, as written. */
    private static List<String> kustomizationResources() {
        Map<String, Object> kustomization = loadAll(KUSTOMIZATION).get(0);
        assertEquals("Kustomization", kustomization.get("kind"));
        Object resources = kustomization.get("resources");
        assertInstanceOf(List.class, resources, "kustomization resources");
        return ((List<?>) resources).stream().map(String::valueOf).collect(Collectors.toList());
    }

    // ------------------------------------------------------------------------------------------------
    // helpers
    // ------------------------------------------------------------------------------------------------

    private static List<Path> yamlFiles() {
        try (Stream<Path> files = Files.list(K8S)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> p.getFileName().toString().endsWith(".yaml") || p.getFileName().toString().endsWith(".yml"))
                    .sorted()
                    .collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every document of every YAML file except kustomization.yaml (a kustomize file, not a resource). */
    private static List<Doc> documents() {
        List<Doc> docs = new ArrayList<>();
        for (Path file : yamlFiles()) {
            if (file.equals(KUSTOMIZATION)) {
                continue;
            }
            for (Map<String, Object> raw : loadAll(file)) {
                docs.add(new Doc(file, raw));
            }
        }
        return docs;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> loadAll(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : yaml.loadAll(text)) {
            if (doc == null) {
                continue; // an empty document, e.g. after a trailing ---
            }
            assertInstanceOf(Map.class, doc, file + ": a document that is not a mapping");
            docs.add((Map<String, Object>) doc);
        }
        return docs;
    }

    /** The document parsed by fabric8 into the given model class (through JSON: one parser, no YAML quirks). */
    private static <T> T typed(Doc doc, Class<T> type) {
        try {
            return KUBERNETES.unmarshal(JSON.writeValueAsString(doc.raw()), type);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(doc.file() + ": cannot re-serialize", e);
        }
    }

    private static <T extends HasMetadata> T single(Class<T> type) {
        String kind = HasMetadata.getKind(type);
        List<Doc> matching = documents().stream().filter(d -> kind.equals(d.kind())).collect(Collectors.toList());
        assertEquals(1, matching.size(), "expected exactly one " + kind + " in " + K8S);
        return typed(matching.get(0), type);
    }

    private static <T extends HasMetadata> T named(Class<T> type, String name) {
        String kind = HasMetadata.getKind(type);
        Doc doc = documents().stream()
                .filter(d -> kind.equals(d.kind()) && name.equals(d.name()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " named " + name + " in " + K8S));
        return typed(doc, type);
    }

    private static GenericKubernetesResource generic(String kind) {
        List<Doc> matching = documents().stream().filter(d -> kind.equals(d.kind())).collect(Collectors.toList());
        assertEquals(1, matching.size(), "expected exactly one " + kind + " in " + K8S);
        return typed(matching.get(0), GenericKubernetesResource.class);
    }

    /** apiVersion as declared by the model's @Group/@Version annotations (core group: just the version). */
    private static String modelApiVersion(Class<?> type) {
        String group = HasMetadata.getGroup(type);
        String version = HasMetadata.getVersion(type);
        return group == null || group.isEmpty() ? version : group + "/" + version;
    }

    private static Container appContainer(Deployment deployment) {
        List<Container> containers = deployment.getSpec().getTemplate().getSpec().getContainers();
        return containers.stream()
                .filter(c -> APP_CONTAINER.equals(c.getName()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no container named " + APP_CONTAINER));
    }

    /** A numeric port, or a named one resolved against the container's ports. */
    private static int resolvePort(IntOrString port, Container container) {
        assertNotNull(port, "port missing");
        if (port.getIntVal() != null) {
            return port.getIntVal();
        }
        String name = port.getStrVal();
        return container.getPorts().stream()
                .filter(p -> Objects.equals(name, p.getName()))
                .map(ContainerPort::getContainerPort)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no container port named " + name));
    }

    private static void assertProbe(String kind, Probe probe, String path, Container container) {
        assertNotNull(probe, kind + " probe missing");
        var get = probe.getHttpGet();
        assertNotNull(get, kind + " probe must be an HTTP GET");
        assertEquals(path, get.getPath(), kind + " probe path");
        assertEquals(MANAGEMENT_PORT, resolvePort(get.getPort(), container),
                kind + " probe port: /q/health is served on the management port only");
    }

    private static void assertSubset(Map<String, String> selector, Map<String, String> labels, String what) {
        assertNotNull(selector, what + " missing");
        assertFalse(selector.isEmpty(), what + " is empty: it would select everything");
        assertNotNull(labels, what + ": target has no labels");
        Map<String, String> missing = new HashMap<>(selector);
        missing.entrySet().removeIf(e -> e.getValue().equals(labels.get(e.getKey())));
        assertTrue(missing.isEmpty(), what + " does not match the labels " + labels + ": " + missing);
    }

    private static Set<String> matches(Pattern pattern, String text) {
        Set<String> found = new TreeSet<>();
        Matcher matcher = pattern.matcher(text);
        while (matcher.find()) {
            found.add(matcher.group(1));
        }
        return found;
    }

    /** Where the container mounts the Secret {@code secretName} as a volume (read-only). */
    private String secretVolumeMount(Container container, String secretName) {
        var volume = single(Deployment.class).getSpec().getTemplate().getSpec().getVolumes().stream()
                .filter(v -> v.getSecret() != null && secretName.equals(v.getSecret().getSecretName()))
                .findFirst().orElseThrow(() -> new AssertionError("no volume of the Secret " + secretName));
        var mount = container.getVolumeMounts().stream().filter(m -> m.getName().equals(volume.getName()))
                .findFirst().orElseThrow(() -> new AssertionError("the Secret volume is not mounted"));
        assertEquals(Boolean.TRUE, mount.getReadOnly(), "the Secret volume is mounted read-only");
        return mount.getMountPath();
    }

    private static void assertOnlyExportedSeries(Collection<String> expressions, String where) {
        Set<String> unknown = new TreeSet<>();
        for (String expr : expressions) {
            unknown.addAll(matches(SERVICE_SERIES, expr));
        }
        unknown.removeAll(EXPORTED_SERIES);
        assertTrue(unknown.isEmpty(), where + " uses series the service does not export: " + unknown);
    }

    private static void assertAnyExpression(Collection<String> expressions, Predicate<String> test, String what) {
        assertTrue(expressions.stream().anyMatch(test), "no expression for " + what);
    }

    /** Cheap PromQL sanity check: brackets balance outside string literals. */
    private static void assertBalanced(String expr, String where) {
        Map<Character, Character> closing = Map.of(')', '(', '}', '{', ']', '[');
        List<Character> stack = new ArrayList<>();
        char quote = 0;
        for (int i = 0; i < expr.length(); i++) {
            char c = expr.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '"' || c == '\'' || c == '`') {
                quote = c;
            } else if (c == '(' || c == '{' || c == '[') {
                stack.add(c);
            } else if (closing.containsKey(c)) {
                assertFalse(stack.isEmpty(), where + ": unbalanced '" + c + "' in " + expr);
                assertEquals(closing.get(c), stack.remove(stack.size() - 1), where + ": mismatched '" + c + "' in " + expr);
            }
        }
        assertTrue(quote == 0, where + ": unterminated string in " + expr);
        assertTrue(stack.isEmpty(), where + ": unclosed " + stack + " in " + expr);
    }
}
