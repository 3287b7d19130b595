package dev.bastion.reference;

import java.math.BigDecimal;
import java.time.Instant;

import io.vertx.mutiny.sqlclient.Row;

/** The JSON of Bastion's CustomerResponse, field for field, read straight from a row. */
public record CustomerJson(Long id, String name, String email, String phone, String status,
                           BigDecimal creditBalance, long version, Instant createdAt, Instant updatedAt) {

    static final String COLUMNS = "id, name, email, phone, status, credit_balance, version, created_at, updated_at";

    static CustomerJson of(Row row) {
        return new CustomerJson(row.getLong(0), row.getString(1), row.getString(2), row.getString(3),
                row.getString(4), row.getBigDecimal(5), row.getLong(6),
                row.getOffsetDateTime(7).toInstant(), row.getOffsetDateTime(8).toInstant());
    }
}
