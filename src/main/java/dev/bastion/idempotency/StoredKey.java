package dev.bastion.idempotency;

import java.io.Serializable;
import java.util.Objects;

import jakarta.persistence.Column;
import jakarta.persistence.Embeddable;
import jakarta.persistence.EmbeddedId;
import jakarta.persistence.Entity;
import jakarta.persistence.Table;
import org.hibernate.annotations.Immutable;

/**
 * A claimed key's row as a repeat reads it: by its primary key, through the session, so the read is
 * Hibernate's entity load and not a native query (whose plan Hibernate never finds in its cache: see
 * docs/architecture.md, "SQL through Hibernate Reactive"). Never written through Hibernate: the
 * claim, the stored response and the clean-up are {@link IdempotencyKeys}' own statements.
 */
@Entity
@Table(name = "idempotency_key")
@Immutable
public class StoredKey {

    @EmbeddedId
    public Id id;

    @Column(name = "request_hash")
    public String requestHash;

    /** Null while the first request with this key has not stored its response. */
    @Column(name = "response_status")
    public Integer responseStatus;

    @Column(name = "response_body")
    public String responseBody;

    @Column(name = "resource_id")
    public Long resourceId;

    /** The table's primary key: the operation and the caller's key. */
    @Embeddable
    public static class Id implements Serializable {

        @Column(name = "operation")
        public String operation;

        @Column(name = "idempotency_key")
        public String key;

        protected Id() {
        }

        public Id(String operation, String key) {
            this.operation = operation;
            this.key = key;
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Id id && operation.equals(id.operation) && key.equals(id.key);
        }

        @Override
        public int hashCode() {
            return Objects.hash(operation, key);
        }
    }
}
