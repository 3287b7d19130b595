package dev.bastion.note;

import java.time.Instant;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.CreationTimestamp;

/**
 * A note about a customer. The customer is referenced by id only: the foreign key in PostgreSQL,
 * not a pre-check in Java, decides whether the customer exists.
 */
@Entity
@Table(name = "customer_note")
public class CustomerNote {

    /** The key of a note's row for the unit of work's per-row bound ({@code TransactionSpec.onRows}). */
    public static String rowKey(long id) {
        return "customer_note:" + id;
    }

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;

    @Column(name = "customer_id", nullable = false)
    public Long customerId;

    @Column(nullable = false)
    public String body;

    @CreationTimestamp
    @Column(name = "created_at", nullable = false, updatable = false)
    public Instant createdAt;
}
