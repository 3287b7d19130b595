package dev.bastion.schema;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * What to run, given the shipped migrations and the history: the shipped ones not applied yet, in
 * version order. Refuses, as Flyway's validation does, a history this build cannot continue from:
 * a recorded failure, an applied file that changed (checksum or name), an applied version this build
 * does not ship below its newest one, or a shipped version left out below the newest applied one.
 * Versions above every shipped one were applied by a newer release (during a rolling update or a
 * rollback) and are left alone.
 */
public record MigrationPlan(List<Migration> pending, List<AppliedMigration> newerThanThisBuild) {

    public static MigrationPlan of(List<Migration> shipped, List<AppliedMigration> history) {
        Map<Integer, Migration> byVersion = shipped.stream().collect(Collectors.toMap(Migration::version, Function.identity()));
        int newestShipped = shipped.stream().mapToInt(Migration::version).max().orElse(0);
        int baseline = 0;
        int newestApplied = 0;
        List<Integer> applied = new ArrayList<>();
        List<AppliedMigration> newer = new ArrayList<>();
        for (AppliedMigration row : history) {
            if (row.version() == null) {
                continue; // Flyway's SCHEMA marker or a repeatable migration: not a version
            }
            if (!row.success()) {
                throw refused("migration " + row.version() + " (" + row.description() + ") is recorded as failed: "
                        + "repair the schema by hand, then delete its row (installed_rank " + row.rank() + ")");
            }
            int version = parse(row.version());
            newestApplied = Math.max(newestApplied, version);
            if (AppliedMigration.BASELINE.equals(row.type())) {
                baseline = Math.max(baseline, version);
                continue;
            }
            Migration migration = byVersion.get(version);
            if (migration == null) {
                if (version > newestShipped) {
                    newer.add(row);
                    continue;
                }
                throw refused("migration " + version + " (" + row.description() + ") was applied but is not in this build");
            }
            if (!migration.description().equals(row.description())) {
                throw refused("migration " + version + " was applied as \"" + row.description() + "\" but this build names it \""
                        + migration.description() + "\"");
            }
            if (row.checksum() != null && row.checksum() != migration.checksum()) {
                throw refused("migration " + version + " (" + row.description() + ") changed after it was applied: checksum "
                        + row.checksum() + " in the history, " + migration.checksum() + " in " + migration.script());
            }
            applied.add(version);
        }
        List<Migration> pending = new ArrayList<>();
        for (Migration migration : shipped) {
            if (migration.version() <= baseline || applied.contains(migration.version())) {
                continue;
            }
            if (migration.version() < newestApplied) {
                throw refused("migration " + migration.version() + " (" + migration.description()
                        + ") is older than migration " + newestApplied + ", which is applied already");
            }
            pending.add(migration);
        }
        return new MigrationPlan(List.copyOf(pending), List.copyOf(newer));
    }

    private static int parse(String version) {
        try {
            return Integer.parseInt(version);
        } catch (NumberFormatException e) {
            throw refused("version \"" + version + "\" in the history is not a whole number");
        }
    }

    private static SchemaMismatchException refused(String reason) {
        return new SchemaMismatchException("The database schema history does not match this build: " + reason);
    }
}
