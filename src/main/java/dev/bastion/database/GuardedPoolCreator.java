package dev.bastion.database;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.TimeUnit;

import dev.bastion.config.SecondsConverter;
import dev.bastion.config.SettingsCheck;
import io.quarkus.reactive.pg.client.PgPoolCreator;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.SqlConnectOptions;
import io.vertx.sqlclient.impl.SocketConnectionBase;
import io.vertx.sqlclient.impl.SqlConnectionBase;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/**
 * Builds the Vert.x pg pool with the guardrails Quarkus has no configuration keys for: the bounded
 * wait queue, the wait timeout, the TCP connect timeout, TCP keepalive and TCP_USER_TIMEOUT (a
 * silent network), and the server-side statement and idle-in-transaction timeouts (sent as start-up
 * parameters, so every pooled connection has them without an extra round trip).
 * <p>
 * Idle connections are proven alive by TCP keepalive rather than by a validation query before each
 * use: a dead peer is noticed within idle + interval x count seconds at no cost per request
 * (PostgreSQL's side from the start-up parameters below, the service's side from the kernel settings
 * the Kubernetes manifest sets), and a connection with unanswered data by TCP_USER_TIMEOUT.
 */
@ApplicationScoped
public class GuardedPoolCreator implements PgPoolCreator {

    private static final Logger LOG = Logger.getLogger(GuardedPoolCreator.class);
    private static final Duration INT_MILLIS = Duration.ofMillis(Integer.MAX_VALUE);

    private final DatabaseSettings guardrails;
    private final UnreplicatedCommits unreplicatedCommits;
    private final SettingsCheck settingsCheck;
    private final AtomicReference<Pool> created = new AtomicReference<>();
    private final AtomicReference<PgConnectOptions> connectOptions = new AtomicReference<>();
    private final AtomicReference<CredentialFiles> credentialFiles = new AtomicReference<>();
    private final IdleConnectionFirst idleConnectionFirst = new IdleConnectionFirst();
    private volatile boolean serverCapsConnections;
    private final java.util.concurrent.atomic.AtomicInteger established = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.Set<SocketConnectionBase> sockets = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.Set<SocketConnectionBase> readSockets = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final AtomicReference<Pool> readPool = new AtomicReference<>();
    private final AtomicReference<WriterDiscovery> writerDiscovery = new AtomicReference<>();
    private final List<Runnable> targetChanged = new java.util.concurrent.CopyOnWriteArrayList<>();

    public GuardedPoolCreator(DatabaseSettings guardrails, SettingsCheck settingsCheck, UnreplicatedCommits unreplicatedCommits) {
        this.unreplicatedCommits = unreplicatedCommits;
        this.guardrails = guardrails;
        this.settingsCheck = settingsCheck;
    }

    /** Where every pooled connection reports commits acknowledged without their synchronous standby. */
    public UnreplicatedCommits unreplicatedCommits() {
        return unreplicatedCommits;
    }

    /**
     * Whether PostgreSQL refuses this service as many connections as the pool may open (53300, or a
     * login refused while others are logged in, learned by the admission): every connection counts then, so borrowers take any idle one before the pool
     * tries to open another ({@link IdleConnectionFirst}), and the readiness probe gives its own
     * connection's slot to the pool.
     */
    void serverCapsConnections(boolean capped) {
        serverCapsConnections = capped;
        idleConnectionFirst.anyEventLoop(capped);
    }

    /** See {@link #serverCapsConnections(boolean)}. */
    public boolean serverCapsConnections() {
        return serverCapsConnections;
    }

    /**
     * Connections the pool has established and not lost (busy or idle), counted as they log in and as
     * their sockets close; empty until the pool exists. Vert.x's own meters only report busy
     * connections and free slots, and the pool's size counts connections still being opened, which
     * cannot tell how many connections a server that refuses more has let this service keep.
     */
    public OptionalInt openConnections() {
        return created.get() == null ? OptionalInt.empty() : OptionalInt.of(established.get());
    }

    /** Counts a pooled connection from its login until its socket closes, however it closes. */
    private void established(io.vertx.sqlclient.SqlConnection connection) {
        SocketConnectionBase socket = socketOf(connection);
        if (socket != null) {
            established.incrementAndGet();
            sockets.add(socket);
            socket.socket().channelHandlerContext().channel().closeFuture().addListener(closed -> {
                established.decrementAndGet();
                sockets.remove(socket);
            });
        }
    }

    /** Keeps a connection of the read pool (DB_READ_TARGET=prefer-standby) until its socket closes. */
    private void establishedForReads(io.vertx.sqlclient.SqlConnection connection) {
        SocketConnectionBase socket = socketOf(connection);
        if (socket != null) {
            readSockets.add(socket);
            socket.socket().channelHandlerContext().channel().closeFuture().addListener(closed -> readSockets.remove(socket));
        }
    }

    private static SocketConnectionBase socketOf(io.vertx.sqlclient.SqlConnection connection) {
        if (!(connection instanceof SqlConnectionBase<?> base)) {
            return null;
        }
        io.vertx.sqlclient.impl.Connection inner = base.unwrap(); // the pool's wrapper, then the socket's
        while (!(inner instanceof SocketConnectionBase) && inner.unwrap() != inner) {
            inner = inner.unwrap();
        }
        return inner instanceof SocketConnectionBase socket ? socket : null;
    }

    /**
     * A copy of the options the pool connects with (host, credentials, TLS mode and trust, timeouts,
     * keepalive), for connections made outside the pool; empty until the pool exists.
     */
    public Optional<PgConnectOptions> connectOptions() {
        return Optional.ofNullable(connectOptions.get()).map(PgConnectOptions::new);
    }

    /**
     * Options for a connection made outside the pool, with the credentials as they are now (read from
     * DB_PASSWORD_FILE / DB_USERNAME_FILE when set); fails until the pool exists.
     */
    public io.vertx.core.Future<PgConnectOptions> freshConnectOptions() {
        PgConnectOptions last = connectOptions.get();
        if (last == null) {
            return io.vertx.core.Future.failedFuture(new IllegalStateException("database pool not created"));
        }
        CredentialFiles files = credentialFiles.get();
        return files != null ? files.forHost(last).map(PgConnectOptions::new)
                : io.vertx.core.Future.succeededFuture(new PgConnectOptions(last));
    }

    @Override
    public Pool create(Input input) {
        // Hibernate Reactive builds the pool before StartupEvent: refuse bad settings here first,
        // rather than connecting with them
        settingsCheck.refuseInvalid();
        PoolOptions pool = input.poolOptions()
                .setMaxSize(guardrails.poolMaxSize())
                // callers queue in the admission (PoolAdmission, capped by DB_POOL_WAIT_QUEUE); the pool's own
                // queue holds admitted attempts whose connection is being opened or given back, at most the
                // pool's size, and the background borrowers (probe, key cleanup): never DB_POOL_WAIT_QUEUE=0's none
                .setMaxWaitQueueSize(guardrails.poolWaitQueue() + guardrails.poolMaxSize())
                .setConnectionTimeout(millis(borrowTimeout(guardrails)))
                .setConnectionTimeoutUnit(TimeUnit.MILLISECONDS)
                .setIdleTimeout(millis(guardrails.poolIdleTimeout()))
                .setIdleTimeoutUnit(TimeUnit.MILLISECONDS)
                .setMaxLifetime(millis(guardrails.poolRecycle()))
                .setMaxLifetimeUnit(TimeUnit.MILLISECONDS)
                .setPoolCleanerPeriod(1000);
        for (PgConnectOptions connect : input.pgConnectOptionsList()) {
            // Vert.x 4.5 applies TCP_USER_TIMEOUT to client sockets (on epoll), but not keepalive timing:
            // this side's keepalive follows the kernel's (pod's) net.ipv4.tcp_keepalive_* settings
            connect.setConnectTimeout(millis(guardrails.connectTimeout()))
                    .setTcpKeepAlive(true)
                    .setTcpUserTimeout(millis(guardrails.tcpUserTimeout()));
            Map<String, String> startup = new HashMap<>(connect.getProperties());
            // no statement_timeout here: a start-up parameter would override a stricter one the DBA set for the
            // role or database; each transaction sets its own from the request's deadline (UnitOfWork)
            startup.put("idle_in_transaction_session_timeout",
                    Integer.toString(millis(guardrails.sessionTimeout())));
            // PostgreSQL's side of each connection: its backend notices a silent client and ends,
            // releasing the locks and the transaction it held
            startup.put("tcp_keepalives_idle", Integer.toString(guardrails.tcpKeepaliveIdle()));
            startup.put("tcp_keepalives_interval", Integer.toString(guardrails.tcpKeepaliveInterval()));
            startup.put("tcp_keepalives_count", Integer.toString(guardrails.tcpKeepaliveCount()));
            startup.put("tcp_user_timeout", Integer.toString(millis(guardrails.tcpUserTimeout())));
            startup.put("application_name", "bastion");
            connect.setProperties(startup);
        }
        List<PgConnectOptions> hosts = hosts(input.pgConnectOptionsList());
        connectOptions.set(hosts.get(0));
        if (!input.vertx().isNativeTransportEnabled()) {
            LOG.warn("Vert.x runs without its native transport: TCP keepalive tuning and TCP_USER_TIMEOUT do not apply, "
                    + "so a silent network is only bounded by DB_REQUEST_TIMEOUT");
        }
        LOG.infof("Database pool: %d steady + %d overflow connections, wait queue %d, wait timeout %s, "
                        + "connect timeout %s, request deadline %s, statement timeout %s, session timeout %s, "
                        + "keepalive %ds+%dsx%d, TCP user timeout %s",
                guardrails.poolSize(), guardrails.maxOverflow(), guardrails.poolWaitQueue(),
                SecondsConverter.format(guardrails.poolTimeout()), SecondsConverter.format(guardrails.connectTimeout()),
                SecondsConverter.format(guardrails.requestTimeout()), SecondsConverter.format(guardrails.commandTimeout()),
                SecondsConverter.format(guardrails.sessionTimeout()), guardrails.tcpKeepaliveIdle(),
                guardrails.tcpKeepaliveInterval(), guardrails.tcpKeepaliveCount(),
                SecondsConverter.format(guardrails.tcpUserTimeout()));
        // every connection reports its notices: a commit whose synchronous standby wait was cancelled is one
        var builder = PgBuilder.pool().with(pool).withConnectHandler(connection -> {
            PgConnection.cast(connection).noticeHandler(unreplicatedCommits::notice);
            established(connection);
            connection.close(); // hands it to the pool
        });
        java.util.function.Function<PgConnectOptions, io.vertx.core.Future<PgConnectOptions>> credentials =
                host -> io.vertx.core.Future.succeededFuture(new PgConnectOptions(host));
        if (guardrails.usernameFile().isPresent() || guardrails.passwordFile().isPresent()) {
            LOG.infof("Database credentials are read from %s for every new connection",
                    guardrails.passwordFile().or(guardrails::usernameFile).orElseThrow());
            CredentialFiles files = new CredentialFiles(input.vertx(), hosts, guardrails.usernameFile(),
                    guardrails.passwordFile(), connectOptions::set);
            credentialFiles.set(files);
            credentials = files::forHost;
            if (hosts.size() == 1) {
                builder.connectingTo(files);
            }
        } else if (hosts.size() == 1) {
            builder.connectingTo(new ArrayList<SqlConnectOptions>(hosts));
        }
        if (hosts.size() > 1) {
            boolean standbyReads = guardrails.readTarget() == DatabaseSettings.ReadTarget.PREFER_STANDBY;
            WriterDiscovery discovery = new WriterDiscovery(input.vertx(), hosts, credentials,
                    millis(guardrails.probeTimeout()), this::closeConnectionsNotTo,
                    standbyReads ? guardrails.maxStandbyLag().toMillis() / 1000.0 : 0, this::closeReadConnectionsNotTo);
            writerDiscovery.set(discovery);
            if (standbyReads) {
                // reads by id on streaming standbys: a pool of their own, named for its own meters
                readPool.set(PgBuilder.pool().with(new PoolOptions(pool).setName("bastion-reads").setMaxSize(guardrails.poolSize()))
                        .withConnectHandler(connection -> {
                            establishedForReads(connection);
                            connection.close(); // hands it to the pool
                        })
                        .connectingTo(discovery::readTarget).using(input.vertx()).build());
                LOG.infof("Reads by id go to standbys at most %s behind (DB_READ_TARGET=prefer-standby), else to the writer",
                        SecondsConverter.format(guardrails.maxStandbyLag()));
            }
            builder.connectingTo(() -> discovery.get().map(options -> {
                connectOptions.set((PgConnectOptions) options); // the readiness probe connects where the pool does
                return options;
            }));
            LOG.infof("Database hosts %s: every new connection goes to the writer among them", discovery.hosts());
        }
        Pool built = builder.using(input.vertx()).build();
        idleConnectionFirst.installIn(built);
        created.set(built);
        return built;
    }

    /** DB_HOSTS as one set of options per host (the URL's database, credentials and TLS), else the URL's. */
    private List<PgConnectOptions> hosts(List<PgConnectOptions> fromUrl) {
        List<String> listed = guardrails.hosts().orElse(List.of());
        if (listed.isEmpty()) {
            return fromUrl;
        }
        List<PgConnectOptions> hosts = new ArrayList<>();
        for (String hostAndPort : listed) {
            int colon = hostAndPort.lastIndexOf(':');
            PgConnectOptions host = new PgConnectOptions(fromUrl.get(0));
            host.setHost(colon < 0 ? hostAndPort.strip() : hostAndPort.substring(0, colon).strip());
            host.setPort(colon < 0 ? PgConnectOptions.DEFAULT_PORT : Integer.parseInt(hostAndPort.substring(colon + 1).strip()));
            hosts.add(host);
        }
        return hosts;
    }

    /**
     * A new writer was found: every pooled connection to another node is closed (one in use fails its
     * attempt, which runs again on the writer), so no write ever reaches a demoted primary.
     */
    private void closeConnectionsNotTo(PgConnectOptions writer) {
        targetChanged.forEach(Runnable::run);
        WriterDiscovery discovery = writerDiscovery.get();
        if (discovery != null) {
            closeReadConnectionsNotTo(discovery.readStandbys()); // reads that went to the old writer
        }
        int closed = 0;
        for (SocketConnectionBase socket : sockets) {
            io.vertx.core.net.SocketAddress server = socket.server();
            if (server == null || server.port() != writer.getPort() || !writer.getHost().equals(server.host())) {
                socket.socket().close();
                closed++;
            }
        }
        if (closed > 0) {
            LOG.infof("Closed %d pooled connection(s) to a node that is not the writer %s", closed, WriterDiscovery.address(writer));
        }
    }

    /**
     * The standbys that may serve reads changed: read connections to any other node are closed (a
     * standby that fell behind DB_MAX_STANDBY_LAG, or the writer once a standby is fresh again).
     */
    private void closeReadConnectionsNotTo(List<String> standbys) {
        WriterDiscovery discovery = writerDiscovery.get();
        List<String> allowed = !standbys.isEmpty() || discovery == null ? standbys
                : discovery.writer().map(List::of).orElse(List.of());
        for (SocketConnectionBase socket : readSockets) {
            io.vertx.core.net.SocketAddress server = socket.server();
            if (server == null || !allowed.contains(server.host() + ":" + server.port())) {
                socket.socket().close();
            }
        }
    }

    /** With DB_READ_TARGET=prefer-standby and DB_HOSTS: the pool that serves reads by id from standbys. */
    public Optional<Pool> readPool() {
        return Optional.ofNullable(readPool.get());
    }

    /** Runs {@code listener} whenever new connections start going to another node (DB_HOSTS). */
    void onTargetChanged(Runnable listener) {
        targetChanged.add(listener);
    }

    /** An attempt met a read-only node or lost its connection: with DB_HOSTS, the writer is looked for again. */
    void writerSuspect() {
        WriterDiscovery discovery = writerDiscovery.get();
        if (discovery != null) {
            discovery.suspect();
        }
    }

    /** With DB_HOSTS: the writer found among them, the hosts taking writes in a split brain, and how often it changed. */
    public Optional<WriterStatus> writerStatus() {
        WriterDiscovery discovery = writerDiscovery.get();
        return discovery == null ? Optional.empty()
                : Optional.of(new WriterStatus(discovery.hosts(), discovery.writer(), discovery.splitBrain(), discovery.writerChanges(),
                        discovery.readStandbys(), discovery.nodes()));
    }

    /**
     * With DB_HOSTS, per host at the last look: whether it takes writes (1, 0, NaN when it did not
     * answer) and how old the last transaction it replayed is, in seconds (0 for the writer).
     */
    public double hostWritable(String host) {
        WriterDiscovery discovery = writerDiscovery.get();
        return discovery == null ? Double.NaN : discovery.writable(host);
    }

    /** See {@link #hostWritable(String)}. */
    public double hostReplayAgeSeconds(String host) {
        WriterDiscovery discovery = writerDiscovery.get();
        return discovery == null ? Double.NaN : discovery.replayAgeSeconds(host);
    }

    /** See {@link #writerStatus()}. */
    public record WriterStatus(List<String> hosts, Optional<String> writer, List<String> splitBrain, long changes,
                               List<String> readStandbys, List<DatabaseNode> nodes) {
    }

    /**
     * How long the Vert.x pool lets a borrow wait: DB_POOL_TIMEOUT, or DB_CONNECT_TIMEOUT when longer.
     * The wait for a free connection is bounded by the admission ({@link PoolAdmission}, by
     * DB_POOL_TIMEOUT) before the pool is asked; a borrow the pool then serves may still have to open a
     * connection (TCP, TLS, login), which a short DB_POOL_TIMEOUT (0.1 s) would otherwise fail whenever
     * a login takes longer: the migration's first connection at start first of all, so that the service
     * could not start. The request deadline still bounds what a caller waits.
     */
    static Duration borrowTimeout(DatabaseSettings settings) {
        return settings.poolTimeout().compareTo(settings.connectTimeout()) >= 0 ? settings.poolTimeout() : settings.connectTimeout();
    }

    /**
     * Milliseconds for the Vert.x options and PostgreSQL's settings, which take an int. Only the
     * settings without an upper bound can be longer; they are capped at about 24 days.
     */
    private static int millis(Duration duration) {
        return duration.compareTo(INT_MILLIS) >= 0 ? Integer.MAX_VALUE : (int) duration.toMillis();
    }
}
