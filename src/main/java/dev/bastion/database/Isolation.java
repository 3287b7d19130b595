package dev.bastion.database;

/** Transaction isolation levels a unit of work can ask for. */
public enum Isolation {
    READ_COMMITTED("READ COMMITTED"),
    REPEATABLE_READ("REPEATABLE READ"),
    SERIALIZABLE("SERIALIZABLE");

    private final String sql;

    Isolation(String sql) {
        this.sql = sql;
    }

    /** The statement that must run first in a driver-managed transaction to select this level. */
    String setStatement() {
        return "SET TRANSACTION ISOLATION LEVEL " + sql;
    }

    /** The statement that opens an explicitly managed transaction at this level. */
    String beginStatement() {
        return "BEGIN ISOLATION LEVEL " + sql;
    }
}
