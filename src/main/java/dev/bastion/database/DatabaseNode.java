package dev.bastion.database;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * One host of DB_HOSTS as the service saw it at its last look (every 5 s, and after a failure).
 *
 * @param host              host:port
 * @param role              what the node is to the service
 * @param servesReads       whether reads by id go there now (the writer does when no standby is fresh enough)
 * @param timeline          a writable node's timeline (newest wins a split brain), else null
 * @param walBehindBytes    a standby's WAL not replayed yet, against the writer's position at the same look
 * @param replayAgeSeconds  a standby's age of the last transaction it replayed (grows while nothing is written)
 */
@RegisterForReflection // serialised to JSON inside a generic or untyped response
public record DatabaseNode(String host, Role role, boolean servesReads, Long timeline, Long walBehindBytes,
                           Double replayAgeSeconds) {

    public enum Role {
        /** Where every write and new connection goes. */
        WRITER,
        /** A streaming standby (in recovery). */
        STANDBY,
        /** Takes writes too (a split brain), but is on an older timeline: never used. */
        FENCED_OUT,
        /** Takes writes; not chosen (only while the writer is being looked for again). */
        WRITABLE,
        /** Answers but refuses writes without being a standby (default_transaction_read_only). */
        READ_ONLY,
        /** Did not answer within the probe timeout at the last look. */
        UNREACHABLE;

        @com.fasterxml.jackson.annotation.JsonValue
        public String json() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }
}
