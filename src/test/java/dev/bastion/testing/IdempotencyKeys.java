package dev.bastion.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/** The idempotency keys the service stored, read directly from PostgreSQL. */
public final class IdempotencyKeys {

    private IdempotencyKeys() {
    }

    /** Whether a row for {@code key} is stored (expired or not). */
    public static boolean isStored(String key) throws SQLException {
        try (Connection c = PostgresResource.connect();
             PreparedStatement s = c.prepareStatement("SELECT 1 FROM idempotency_key WHERE idempotency_key = ?")) {
            s.setString(1, key);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }
}
