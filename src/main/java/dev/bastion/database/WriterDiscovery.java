package dev.bastion.database;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnectOptions;
import org.jboss.logging.Logger;

/**
 * Finds the writer among several hosts (DB_HOSTS) without a proxy, as libpq's
 * {@code target_session_attrs=read-write} does for JDBC, which the Vert.x pg client has not: every
 * new pooled connection goes to the node that takes writes ({@code pg_is_in_recovery()} false and
 * not {@code transaction_read_only}), found by probing all hosts at once, each within the probe
 * timeout.
 * <p>
 * The writer is looked for again when an attempt meets a read-only node (25006) or loses its
 * connection ({@link #suspect()}), and every {@link #RECHECK_MILLIS} in any case, so a promotion is
 * followed within about a second of the first failure it causes. When the writer changes, every
 * pooled connection to another node is closed ({@code onWriterChanged}): nothing keeps writing to a
 * demoted primary. Two writable nodes (a demoted primary restarted without its standby settings)
 * are a split brain: the one on the newest timeline is used, the other never, and it is said loudly.
 * While no node takes writes (a failover in progress) connections go to a reachable node, so reads
 * are served and writes answer 503 database-read-only until the writer appears.
 */
final class WriterDiscovery implements Supplier<Future<SqlConnectOptions>> {

    private static final Logger LOG = Logger.getLogger(WriterDiscovery.class);
    static final long RECHECK_MILLIS = 5000;
    /** A burst of failures looks for the writer once, not once per failed attempt. */
    private static final long SUSPECT_INTERVAL_NANOS = 200_000_000L;

    private static final String CHECK = "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'";
    /**
     * A writable node's current timeline, from the name of the WAL file it writes (its first 8 hex
     * digits): unlike pg_control_checkpoint() it is current right after a promotion and needs no
     * privilege. A node whose timeline cannot be read sorts last.
     */
    private static final String TIMELINE = "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint";

    /**
     * A standby's replay position (bytes of WAL) and the age of the last transaction it replayed: it
     * may serve reads when it has replayed all the writer had written at the same look, or replayed a
     * transaction within DB_MAX_STANDBY_LAG. A standby still following a dead primary stops
     * replaying, so it ages out even though it has replayed everything it received.
     */
    private static final String REPLAY = "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::float8, "
            + "coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 1e9)::float8";
    /** Where a writer's WAL is now (bytes), to compare standbys with. */
    private static final String WRITTEN = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8";

    /**
     * What one host answered: its WAL position ({@code wal}: written for a writer, replayed for a
     * standby) and, for a standby, the age in seconds of the last transaction it replayed.
     */
    record Node(PgConnectOptions host, boolean writable, long timeline, double wal, double replayAgeSeconds) {
        String address() {
            return WriterDiscovery.address(host);
        }
    }

    private final Vertx vertx;
    private final List<PgConnectOptions> hosts;
    private final Function<PgConnectOptions, Future<PgConnectOptions>> credentials;
    private final long probeTimeoutMillis;
    private final Consumer<PgConnectOptions> onWriterChanged;
    private final double maxStandbyLagSeconds;
    private final Consumer<List<String>> onStandbysChanged;
    private volatile PgConnectOptions current;   // where new connections go; null until found
    private volatile boolean currentWritable;
    private volatile List<String> splitBrain = List.of();
    private volatile List<Node> freshStandbys = List.of(); // standbys within the lag bound, for reads
    private final java.util.concurrent.ConcurrentMap<String, Node> lastSeen = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger nextStandby = new java.util.concurrent.atomic.AtomicInteger();
    private Future<PgConnectOptions> inFlight;   // guarded by this
    private long lastSuspectNanos = System.nanoTime() - SUSPECT_INTERVAL_NANOS;
    private final AtomicLong writerChanges = new AtomicLong();

    /**
     * @param credentials     the host's options with the credentials to use now (DB_PASSWORD_FILE)
     * @param onWriterChanged told the new writer: closes pooled connections to any other host
     */
    WriterDiscovery(Vertx vertx, List<PgConnectOptions> hosts, Function<PgConnectOptions, Future<PgConnectOptions>> credentials,
                    long probeTimeoutMillis, Consumer<PgConnectOptions> onWriterChanged) {
        this(vertx, hosts, credentials, probeTimeoutMillis, onWriterChanged, 0, standbys -> { });
    }

    /**
     * @param maxStandbyLagSeconds how far behind a standby may be and serve reads ({@link #readTarget()})
     * @param onStandbysChanged    told the standbys that may serve reads now, whenever that changes
     */
    WriterDiscovery(Vertx vertx, List<PgConnectOptions> hosts, Function<PgConnectOptions, Future<PgConnectOptions>> credentials,
                    long probeTimeoutMillis, Consumer<PgConnectOptions> onWriterChanged, double maxStandbyLagSeconds,
                    Consumer<List<String>> onStandbysChanged) {
        this.maxStandbyLagSeconds = maxStandbyLagSeconds;
        this.onStandbysChanged = onStandbysChanged;
        this.vertx = vertx;
        this.hosts = List.copyOf(hosts);
        this.credentials = credentials;
        this.probeTimeoutMillis = probeTimeoutMillis;
        this.onWriterChanged = onWriterChanged;
        vertx.setPeriodic(RECHECK_MILLIS, RECHECK_MILLIS, id -> discover());
    }

    /** The options for the pool's next connection: the writer's, found first when not known yet. */
    @Override
    public Future<SqlConnectOptions> get() {
        PgConnectOptions target = current;
        Future<PgConnectOptions> host = target != null ? Future.succeededFuture(target) : discover();
        return host.compose(credentials).map(options -> options);
    }

    /**
     * The options for a connection that serves reads: a standby within DB_MAX_STANDBY_LAG at the
     * last look (in turn), else where writes go.
     */
    Future<SqlConnectOptions> readTarget() {
        List<Node> standbys = freshStandbys;
        if (standbys.isEmpty()) {
            return get();
        }
        PgConnectOptions standby = standbys.get(Math.floorMod(nextStandby.getAndIncrement(), standbys.size())).host();
        return credentials.apply(standby).map(options -> options);
    }

    /** The standbys that serve reads now (host:port), empty when reads go to the writer. */
    List<String> readStandbys() {
        return freshStandbys.stream().map(Node::address).toList();
    }

    /** An attempt met a read-only node or lost its connection: look for the writer again, soon. */
    void suspect() {
        synchronized (this) {
            long now = System.nanoTime();
            if (now - lastSuspectNanos < SUSPECT_INTERVAL_NANOS) {
                return;
            }
            lastSuspectNanos = now;
        }
        discover();
    }

    /** The writer's address (host:port), or empty while no node takes writes. */
    Optional<String> writer() {
        PgConnectOptions target = current;
        return target != null && currentWritable ? Optional.of(address(target)) : Optional.empty();
    }

    /** Hosts that took writes at the last look when more than one did (a split brain), else empty. */
    List<String> splitBrain() {
        return splitBrain;
    }

    long writerChanges() {
        return writerChanges.get();
    }

    List<String> hosts() {
        return hosts.stream().map(WriterDiscovery::address).toList();
    }

    /** Probes every host at once; one look at a time (callers during a look share it). */
    private Future<PgConnectOptions> discover() {
        synchronized (this) {
            if (inFlight != null) {
                return inFlight;
            }
            List<Future<Optional<Node>>> probes = new ArrayList<>();
            for (PgConnectOptions host : hosts) {
                probes.add(probe(host));
            }
            inFlight = Future.join(probes).transform(ignored -> choose(probes.stream()
                    .map(f -> f.result() == null ? Optional.<Node>empty() : f.result())
                    .flatMap(Optional::stream).toList()));
            inFlight.onComplete(done -> {
                synchronized (this) {
                    inFlight = null;
                }
            });
            return inFlight;
        }
    }

    /**
     * What each host answered at the last look: 1 writable, 0 not; the age in seconds of the last
     * transaction a standby replayed (0 for the writer); NaN for a host that did not answer.
     */
    double writable(String address) {
        Node node = lastSeen.get(address);
        return node == null ? Double.NaN : node.writable() ? 1 : 0;
    }

    /**
     * Every host of DB_HOSTS as seen at the last look: its role, whether it serves reads, and how far
     * a standby is behind the writer (bytes of WAL not replayed, and the age of the last transaction it
     * replayed). A host that did not answer is {@code unreachable}.
     */
    List<DatabaseNode> nodes() {
        Optional<String> writer = writer();
        List<String> reads = readStandbys();
        List<String> bothWrite = splitBrain;
        double written = lastSeen.values().stream().filter(Node::writable).mapToDouble(Node::wal).max().orElse(Double.NaN);
        List<DatabaseNode> nodes = new ArrayList<>();
        for (String address : hosts()) {
            Node node = lastSeen.get(address);
            if (node == null) {
                nodes.add(new DatabaseNode(address, DatabaseNode.Role.UNREACHABLE, false, null, null, null));
                continue;
            }
            DatabaseNode.Role role = writer.filter(address::equals).isPresent() ? DatabaseNode.Role.WRITER
                    : node.writable() ? (bothWrite.isEmpty() ? DatabaseNode.Role.WRITABLE : DatabaseNode.Role.FENCED_OUT)
                    : node.wal() >= 0 ? DatabaseNode.Role.STANDBY : DatabaseNode.Role.READ_ONLY;
            boolean standby = role == DatabaseNode.Role.STANDBY;
            Long behind = standby && !Double.isNaN(written) ? (long) Math.max(0, written - node.wal()) : null;
            nodes.add(new DatabaseNode(address, role, reads.contains(address) || (role == DatabaseNode.Role.WRITER && reads.isEmpty()),
                    node.timeline() >= 0 ? node.timeline() : null, behind,
                    standby && node.replayAgeSeconds() < 1e9 ? node.replayAgeSeconds() : null));
        }
        return nodes;
    }

    /** See {@link #writable(String)}. */
    double replayAgeSeconds(String address) {
        Node node = lastSeen.get(address);
        return node == null || node.wal() < 0 ? Double.NaN : node.replayAgeSeconds();
    }

    private Future<PgConnectOptions> choose(List<Node> reachable) {
        lastSeen.clear();
        reachable.forEach(node -> lastSeen.put(node.address(), node));
        if (reachable.isEmpty()) {
            // no probe answered: an outage, or only new connections refused (a rotated password, a
            // connection cap) while the pools' open ones still work. It says nothing about which standbys
            // are fresh: the reads keep the connections they have, rather than being moved to the writer,
            // whose new connections would be refused just the same
            return Future.failedFuture(new java.net.ConnectException("no database host answers (DB_HOSTS " + hosts() + ")"));
        }
        PgConnectOptions inUse = current;
        // the newest timeline first; on a tie (or timelines unknown) the writer already in use stays
        List<Node> writable = reachable.stream().filter(Node::writable)
                .sorted(Comparator.comparingLong(Node::timeline).reversed()
                        .thenComparing(n -> inUse == null || !n.address().equals(address(inUse))))
                .toList();
        if (writable.size() > 1) {
            List<String> both = writable.stream().map(n -> n.address() + " (timeline " + n.timeline() + ")").toList();
            if (!both.equals(splitBrain)) {
                LOG.errorf("Split brain: %s all take writes. Writing to %s only (the newest timeline); fence the "
                        + "other node (stop it, or make it a standby of the writer)", both, writable.get(0).address());
            }
            splitBrain = both;
        } else {
            splitBrain = List.of();
        }
        double written = writable.isEmpty() ? Double.MAX_VALUE : writable.get(0).wal();
        List<Node> standbys = maxStandbyLagSeconds <= 0 ? List.of() : reachable.stream()
                .filter(n -> !n.writable() && n.wal() >= 0
                        && (n.wal() >= written || n.replayAgeSeconds() <= maxStandbyLagSeconds)).toList();
        List<String> before = readStandbys();
        freshStandbys = standbys;
        if (!readStandbys().equals(before)) {
            LOG.infof("Reads by id go to %s", standbys.isEmpty() ? "the writer (no standby within DB_MAX_STANDBY_LAG)"
                    : readStandbys());
            onStandbysChanged.accept(readStandbys());
        }
        Node chosen = !writable.isEmpty() ? writable.get(0) : reachable.get(0);
        PgConnectOptions previous = current;
        boolean changed = previous == null || !address(previous).equals(chosen.address())
                || currentWritable != chosen.writable();
        current = chosen.host();
        currentWritable = chosen.writable();
        if (changed) {
            writerChanges.incrementAndGet();
            if (chosen.writable()) {
                LOG.infof("Database writer: %s (of %s)", chosen.address(), hosts());
            } else {
                LOG.warnf("No database host takes writes (of %s): connecting to %s for reads until a writer appears",
                        hosts(), chosen.address());
            }
            if (previous != null) {
                onWriterChanged.accept(chosen.host());
            }
        }
        return Future.succeededFuture(chosen.host());
    }

    /** One host's answer, or empty when it does not answer within the probe timeout. */
    private Future<Optional<Node>> probe(PgConnectOptions host) {
        Promise<Optional<Node>> answer = Promise.promise();
        long timer = vertx.setTimer(probeTimeoutMillis, fired -> answer.tryComplete(Optional.empty()));
        credentials.apply(host)
                .compose(options -> {
                    java.util.Map<String, String> properties = new java.util.HashMap<>(options.getProperties());
                    properties.put("application_name", "bastion-discovery");
                    return PgConnection.connect(vertx, new PgConnectOptions(options).setProperties(properties)
                            .setMetricsName("bastion-discovery").setConnectTimeout((int) probeTimeoutMillis));
                })
                .compose(connection -> connection.query(CHECK).execute()
                        .compose(rows -> {
                            Row row = rows.iterator().next();
                            boolean writable = !row.getBoolean(0) && !row.getBoolean(1);
                            Future<Long> timeline = !writable ? Future.succeededFuture(-1L)
                                    : connection.query(TIMELINE).execute().map(t -> t.iterator().next().getLong(0));
                            boolean standby = row.getBoolean(0);
                            Future<double[]> position = writable
                                    ? connection.query(WRITTEN).execute().map(w -> new double[] {w.iterator().next().getDouble(0), 0})
                                    : !standby ? Future.succeededFuture(new double[] {-1, 1e9})
                                    : connection.query(REPLAY).execute().map(r -> new double[] {
                                            r.iterator().next().getDouble(0), r.iterator().next().getDouble(1)});
                            return timeline.otherwise(-1L).compose(id -> position.otherwise(new double[] {-1, 1e9})
                                    .map(at -> Optional.of(new Node(host, writable, id, at[0], at[1]))));
                        })
                        .eventually(ignored -> connection.close()))
                .onComplete(result -> {
                    vertx.cancelTimer(timer);
                    answer.tryComplete(result.succeeded() ? result.result() : Optional.empty());
                });
        return answer.future();
    }

    static String address(PgConnectOptions host) {
        return host.getHost() + ":" + host.getPort();
    }
}
