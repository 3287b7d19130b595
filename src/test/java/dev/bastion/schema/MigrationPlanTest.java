package dev.bastion.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The history rows only Flyway writes, which the database tests never produce. */
class MigrationPlanTest {

    private static final List<Migration> SHIPPED = List.of(Migration.of("V1__a.sql", "SELECT 1;"),
            Migration.of("V2__b.sql", "SELECT 2;"), Migration.of("V3__c.sql", "SELECT 3;"));

    @Test
    void aBaselineStandsForEveryVersionUpToIt() {
        MigrationPlan plan = MigrationPlan.of(SHIPPED, List.of(
                new AppliedMigration(0, null, "<< Flyway Schema Creation >>", "SCHEMA", null, true),
                new AppliedMigration(1, "2", "<< Flyway Baseline >>", AppliedMigration.BASELINE, null, true)));
        assertEquals(List.of(3), plan.pending().stream().map(Migration::version).toList());
    }

    @Test
    void anAppliedVersionThisBuildDoesNotShipBelowItsNewestIsRefused() {
        assertThrows(SchemaMismatchException.class, () -> MigrationPlan.of(SHIPPED.subList(1, 3), List.of(
                new AppliedMigration(1, "1", "a", "SQL", SHIPPED.get(0).checksum(), true))));
    }

    @Test
    void aRenamedFileIsRefused() {
        assertThrows(SchemaMismatchException.class, () -> MigrationPlan.of(SHIPPED, List.of(
                new AppliedMigration(1, "1", "renamed", "SQL", SHIPPED.get(0).checksum(), true))));
    }
}
