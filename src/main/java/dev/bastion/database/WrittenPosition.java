package dev.bastion.database;

/**
 * Read-your-writes with reads on standbys (DB_READ_TARGET=prefer-standby): a write's answer carries
 * the writer's WAL position after it committed ({@link #RESPONSE_HEADER}); a read that sends it back
 * ({@link #REQUEST_HEADER}) is served by a standby only once that standby has replayed that far, else
 * by the writer. The position travels with the caller, so it holds across pods and pod restarts
 * (unlike a "read from the primary for a while after a write" window kept in one pod's memory).
 */
public final class WrittenPosition {

    /** On a successful write's answer: the writer's WAL position (pg_lsn text) once it had committed. */
    public static final String RESPONSE_HEADER = "Bastion-Written-Position";
    /** On a read: the position of the caller's last write; the read must see it. */
    public static final String REQUEST_HEADER = "Bastion-Read-After";
    /** PostgreSQL's pg_lsn text form: two hex numbers of up to 32 bits each (the API document shows it too). */
    public static final String FORMAT_REGEX = "[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}";
    private static final java.util.regex.Pattern FORMAT = java.util.regex.Pattern.compile(FORMAT_REGEX);

    /**
     * Taken after the commit was acknowledged, on any connection to the writer: the insert position
     * is at or past every record written so far, the commit included (the flush position may trail
     * it with synchronous_commit off).
     */
    static final String WRITER_POSITION = "SELECT pg_current_wal_insert_lsn()::text";
    /** On a read connection: whether that node has replayed up to $1 (a writer has everything). */
    static final String REPLAYED = "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, true)";

    private WrittenPosition() {
    }

    /** Whether {@code text} is a WAL position as PostgreSQL writes one. */
    public static boolean isPosition(String text) {
        return FORMAT.matcher(text).matches();
    }
}
