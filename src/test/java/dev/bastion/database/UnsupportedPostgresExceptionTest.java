package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The version rule the migration and the readiness probe apply to the version a server reports at login. */
class UnsupportedPostgresExceptionTest {

    @Test
    void aServerOlderThanHibernateOrmsMinimumIsRefusedWithItsVersion() {
        UnsupportedPostgresException refused = assertThrows(UnsupportedPostgresException.class,
                () -> UnsupportedPostgresException.requireSupported(12, "12.22"));
        assertEquals("PostgreSQL 12.22 is older than 13, the oldest this build supports", refused.getMessage());
    }

    @Test
    void theMinimumAndNewerAreAccepted() {
        assertDoesNotThrow(() -> UnsupportedPostgresException.requireSupported(13, "13.0"));
        assertDoesNotThrow(() -> UnsupportedPostgresException.requireSupported(17, "17.6"));
    }
}
