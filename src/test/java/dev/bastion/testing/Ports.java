package dev.bastion.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;

/** Local ports for tests that need a host that is down. */
public final class Ports {

    private Ports() {
    }

    /** A port nothing listens on: bound and closed again at once, so connecting to it is refused. */
    public static int closedPort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
