package dev.bastion.schema;

/**
 * One row of {@code flyway_schema_history}, whoever wrote it (this service, or Flyway in earlier
 * releases and tools).
 *
 * @param version  null for rows that are not versioned migrations (Flyway's SCHEMA and repeatable rows)
 * @param checksum null where Flyway recorded none (BASELINE rows)
 */
public record AppliedMigration(int rank, String version, String description, String type, Integer checksum,
                               boolean success) {

    public static final String BASELINE = "BASELINE";
}
