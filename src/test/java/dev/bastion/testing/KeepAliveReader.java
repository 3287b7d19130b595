package dev.bastion.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One HTTP/1.1 keep-alive connection reading one customer over and over, its next request sent as soon
 * as it has its answer (as wrk and busy services do), over a raw socket: what is sent, and whether it was
 * answered, is exactly known. Every answer must be a 200 with that customer. It reads it as a page of
 * one ({@code ?after=id-1&size=1}), a read that runs its own statement: reads by id share statements
 * under a crowd, and a crowd of a few hundred of them no longer fills a pool of two's door. It stops when asked, when it
 * hangs up, when the service answers with {@code Connection: close}, or when the connection ends with a
 * request sent and no answer (cut off).
 */
public final class KeepAliveReader extends Thread {

    private final long id;
    private final AtomicBoolean stop;
    private final Socket socket;
    public volatile int answered;
    public volatile boolean hungUp;
    public volatile boolean closedByService; // answered with Connection: close
    public volatile boolean cutOff;          // the connection ended with a request sent and nothing of its answer read
    public volatile Throwable failure;       // anything else, or a cut-off (not after its own hang-up)

    public KeepAliveReader(int port, long id, AtomicBoolean stop) throws IOException {
        this.id = id;
        this.stop = stop;
        this.socket = new Socket("localhost", port);
        socket.setSoTimeout(20_000);
        setDaemon(true);
    }

    @Override
    public void run() {
        try (socket) {
            OutputStream out = socket.getOutputStream();
            InputStream in = new BufferedInputStream(socket.getInputStream());
            byte[] request = ("GET /customers?after=" + (id - 1) + "&size=1 HTTP/1.1\r\nHost: localhost\r\n"
                    + "Accept: application/json\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII);
            while (!stop.get()) {
                out.write(request);
                out.flush();
                String answer = readAnswer(in);
                if (!answer.startsWith("HTTP/1.1 200") || !answer.contains("\"id\":" + id + ",")) {
                    throw new AssertionError("answer " + answered + ": " + answer);
                }
                answered++;
                if (answer.toLowerCase().contains("\r\nconnection: close\r\n")) {
                    closedByService = true;
                    return;
                }
            }
        } catch (Throwable e) {
            if (!hungUp) {
                failure = e;
            }
        }
    }

    /** Hangs up, whether its request is being served, waits at the door or is left unread. */
    public void hangUp() throws IOException {
        hungUp = true;
        socket.close();
    }

    private String readAnswer(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b;
            try {
                b = in.read();
            } catch (IOException reset) {
                cutOff = !hungUp && head.size() == 0;
                throw reset;
            }
            if (b < 0) {
                cutOff = !hungUp && head.size() == 0;
                throw new EOFException("closed by the service after " + head);
            }
            head.write(b);
            matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        String text = head.toString(StandardCharsets.US_ASCII);
        int at = text.toLowerCase().indexOf("content-length:");
        if (at < 0) {
            throw new IOException("no Content-Length: " + text);
        }
        int length = Integer.parseInt(text.substring(at + 15, text.indexOf('\r', at)).trim());
        byte[] body = in.readNBytes(length);
        if (body.length < length) { // an answer cut short is not an answer
            throw new EOFException("closed by the service " + body.length + " bytes into a body of " + length + ": " + text);
        }
        return text + new String(body, StandardCharsets.UTF_8);
    }
}
