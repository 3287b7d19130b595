package dev.bastion.testing;

import java.sql.SQLException;

/** Credit transfers for tests: the request body, and the ledger rows they leave in PostgreSQL. */
public final class Transfers {

    private Transfers() {
    }

    /** The JSON body of {@code POST /customers/transfers}; {@code amount} is a JSON number. */
    public static String transferBody(long from, long to, String amount) {
        return "{\"from\":" + from + ",\"to\":" + to + ",\"amount\":" + amount + "}";
    }

    /** Ledger rows of transfers from {@code from} to {@code to}. */
    public static long ledgerEntries(long from, long to) throws SQLException {
        return SecondClient.queryLong("SELECT count(*) FROM credit_transfer WHERE from_id = " + from + " AND to_id = " + to);
    }
}
