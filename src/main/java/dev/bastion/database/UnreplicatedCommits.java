package dev.bastion.database;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

import io.vertx.pgclient.PgNotice;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/**
 * Commits PostgreSQL acknowledged while their wait for a synchronous standby was cancelled (a
 * cancel request, a statement_timeout, a terminated backend): it warns "canceling wait for
 * synchronous replication" and the transaction is committed on the primary only. A failover at that
 * moment loses it, so such a write is never reported as durable (the unit of work answers
 * commit-outcome-unknown when it sees the warning for its own statement), and every one is counted,
 * logged and shown to operators. Every pooled connection reports its notices here.
 */
@Singleton
public class UnreplicatedCommits {

    private static final Logger LOG = Logger.getLogger(UnreplicatedCommits.class);
    private static final long LOG_EVERY_NANOS = 10_000_000_000L;

    private final LongAdder count = new LongAdder();
    private final AtomicReference<Instant> last = new AtomicReference<>();
    private final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);

    /** Whether a notice says a commit's wait for a synchronous standby was cancelled. */
    public static boolean isCancelledSyncWait(PgNotice notice) {
        String message = notice.getMessage();
        return message != null && message.startsWith("canceling") && message.contains("synchronous replication");
    }

    /** Looks at a notice from any pooled connection; counts and logs the cancelled synchronous waits. */
    void notice(PgNotice notice) {
        if (!isCancelledSyncWait(notice)) {
            return;
        }
        count.increment();
        last.set(Instant.now());
        long now = System.nanoTime();
        long logged = lastLogged.get();
        if (now - logged >= LOG_EVERY_NANOS && lastLogged.compareAndSet(logged, now)) {
            LOG.warnf("A commit was acknowledged by the primary only: its wait for a synchronous standby was cancelled "
                    + "(%s). A failover now would lose it. %d such commit(s) since start; check the standbys "
                    + "(pg_stat_replication) and synchronous_standby_names.", notice.getMessage(), count.sum());
        }
    }

    /** Commits acknowledged without their synchronous standby since the service started. */
    public long total() {
        return count.sum();
    }

    /** When the last one happened; null if never. */
    public Instant last() {
        return last.get();
    }
}
