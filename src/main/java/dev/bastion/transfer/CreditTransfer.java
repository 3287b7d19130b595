package dev.bastion.transfer;

import java.math.BigDecimal;
import java.time.Instant;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import org.hibernate.annotations.CreationTimestamp;

/** One committed transfer in the ledger (V3__credit_transfer.sql). */
@Entity
@Table(name = "credit_transfer")
public class CreditTransfer {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;

    @Column(name = "from_id", nullable = false)
    public Long fromId;

    @Column(name = "to_id", nullable = false)
    public Long toId;

    @Column(nullable = false)
    public BigDecimal amount;

    @CreationTimestamp
    @Column(name = "created_at", nullable = false, updatable = false)
    public Instant createdAt;
}
