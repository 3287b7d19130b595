package dev.bastion.database;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.SqlConnectOptions;

/**
 * Credentials read from files (DB_USERNAME_FILE, DB_PASSWORD_FILE) for every new connection, so a
 * password rotated by a secrets manager reaches the service without a restart: a Kubernetes Secret
 * mounted as a volume is updated in place by the kubelet, and the next connection (after PostgreSQL
 * ended the old sessions, or the pool replaced them) logs in with the new one. Environment variables
 * cannot do that: they are fixed for the life of the process.
 * <p>
 * The files are read asynchronously (a Secret volume is a tmpfs: microseconds), only when a
 * connection is opened, never per request. Hosts are used in turn, as the pool does with a list.
 */
final class CredentialFiles implements Supplier<Future<SqlConnectOptions>> {

    private final Vertx vertx;
    private final List<PgConnectOptions> hosts;
    private final Optional<String> usernameFile;
    private final Optional<String> passwordFile;
    private final Consumer<PgConnectOptions> lastUsed;
    private final AtomicInteger next = new AtomicInteger();

    CredentialFiles(Vertx vertx, List<PgConnectOptions> hosts, Optional<String> usernameFile, Optional<String> passwordFile,
                    Consumer<PgConnectOptions> lastUsed) {
        this.vertx = vertx;
        this.hosts = List.copyOf(hosts);
        this.usernameFile = usernameFile;
        this.passwordFile = passwordFile;
        this.lastUsed = lastUsed;
    }

    @Override
    public Future<SqlConnectOptions> get() {
        PgConnectOptions host = hosts.get(Math.floorMod(next.getAndIncrement(), hosts.size()));
        return forHost(host).map(options -> options);
    }

    /** {@code host}'s options with the credentials the files hold now. */
    Future<PgConnectOptions> forHost(PgConnectOptions host) {
        return read(usernameFile).compose(user -> read(passwordFile).map(password -> {
            PgConnectOptions options = new PgConnectOptions(host);
            user.ifPresent(options::setUser);
            password.ifPresent(options::setPassword);
            lastUsed.accept(options); // the readiness probe connects with what the pool last used
            return options;
        }));
    }

    private Future<Optional<String>> read(Optional<String> file) {
        if (file.isEmpty()) {
            return Future.succeededFuture(Optional.empty());
        }
        return vertx.fileSystem().readFile(file.get())
                .map(buffer -> Optional.of(withoutLineEnd(buffer.toString(StandardCharsets.UTF_8))));
    }

    /** `echo secret > file` leaves a newline the password does not contain. */
    static String withoutLineEnd(String content) {
        int end = content.length();
        while (end > 0 && (content.charAt(end - 1) == '\n' || content.charAt(end - 1) == '\r')) {
            end--;
        }
        return content.substring(0, end);
    }
}
