package dev.bastion.database;

import io.vertx.core.Context;

/**
 * Runs a waiter's continuation on the Vert.x context it waited from, as a task of its own: never
 * inside the stack of whoever released it (a chain of releases that fail at once would otherwise
 * nest one frame per waiter), and never on another request's event loop. Without a context (a
 * caller outside Vert.x, as in unit tests) it runs at once.
 */
final class OnItsContext {

    private OnItsContext() {
    }

    static void run(Context context, Runnable action) {
        if (context == null) {
            action.run();
        } else {
            context.runOnContext(ignored -> action.run());
        }
    }
}
