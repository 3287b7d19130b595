package dev.bastion.schema;

/** The schema history is one this build must not migrate from; start-up stops with this message. */
public class SchemaMismatchException extends IllegalStateException {

    public SchemaMismatchException(String message) {
        super(message);
    }
}
