package dev.bastion.customer;

import java.math.BigDecimal;
import java.time.Instant;

public record CustomerResponse(Long id, String name, String email, String phone, CustomerStatus status,
                               BigDecimal creditBalance, long version, Instant createdAt, Instant updatedAt) {

    static CustomerResponse of(Customer c) {
        return new CustomerResponse(c.id, c.name, c.email, c.phone, c.status, c.creditBalance, c.version,
                c.createdAt, c.updatedAt);
    }
}
