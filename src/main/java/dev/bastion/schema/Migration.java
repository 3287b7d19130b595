package dev.bastion.schema;

import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

/**
 * One versioned SQL file of {@code db/migration}, named as Flyway names them:
 * {@code V<version>__<description>.sql}, underscores in the description read as spaces.
 *
 * @param script the path Flyway records, e.g. {@code db/migration/V1__customer.sql}
 */
public record Migration(int version, String description, String script, String sql) {

    private static final Pattern NAME = Pattern.compile("V(\\d+)__(\\w+)\\.sql");

    public static Migration of(String script, String sql) {
        String file = script.substring(script.lastIndexOf('/') + 1);
        Matcher name = NAME.matcher(file);
        if (!name.matches()) {
            throw new IllegalArgumentException("not a migration name (V<version>__<description>.sql): " + script);
        }
        return new Migration(Integer.parseInt(name.group(1)), name.group(2).replace('_', ' '), script, sql);
    }

    /**
     * Flyway's checksum of the file: CRC32 over its lines without their line breaks (a leading
     * byte-order mark dropped). Written to the history in the same form, so that history rows
     * Flyway wrote and rows written here check against one another.
     */
    public int checksum() {
        CRC32 crc = new CRC32();
        String text = sql.startsWith("\uFEFF") ? sql.substring(1) : sql;
        text.lines().forEach(line -> crc.update(line.getBytes(StandardCharsets.UTF_8)));
        return (int) crc.getValue();
    }
}
