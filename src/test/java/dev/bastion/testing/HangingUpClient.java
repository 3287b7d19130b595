package dev.bastion.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import io.restassured.RestAssured;

/**
 * A client that sends a request and then really hangs up (closes its TCP connection) without
 * reading the answer, as an ingress that timed out or a mobile client that vanished does.
 */
public final class HangingUpClient implements AutoCloseable {

    private final Socket socket;

    private HangingUpClient(Socket socket) {
        this.socket = socket;
    }

    /** Sends {@code POST path} with a JSON body and returns without waiting for the answer. */
    public static HangingUpClient post(String path, String json) throws IOException {
        Socket socket = new Socket("localhost", RestAssured.port);
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        String head = "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n";
        OutputStream out = socket.getOutputStream();
        out.write(head.getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return new HangingUpClient(socket);
    }

    /** Hangs up: the service sees the connection close before it answered. */
    @Override
    public void close() throws IOException {
        socket.close();
    }
}
