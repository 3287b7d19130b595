package dev.bastion.api;

import java.util.concurrent.atomic.AtomicBoolean;

import dev.bastion.database.DoorRequest;
import dev.bastion.database.FailureKind;
import dev.bastion.database.UnitOfWork;
import io.quarkus.runtime.ShutdownEvent;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.impl.Http1xServerConnection;
import io.vertx.core.impl.ContextInternal;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

/**
 * Refuses an API request before anything is done for it (no body read or parsed, no resource, no
 * unit of work) while the pool's admission could not serve it in time anyway: under a crowd the
 * cores go to the requests that will be served, not to building refusals. The body is rendered once;
 * only the Retry-After (from the admission's expected wait, spread) differs per refusal. Requests
 * that get past this are still refused by the admission itself, later and more precisely. During a
 * storm of refusals, each is answered after a hold ({@link RefusalHold}). First of all, a request beyond
 * the crowd limit (the requests on saturated cores, {@link CrowdLimit}) is refused the same way. The admin
 * API (and the management port, another router) is always served.
 */
@Singleton
public class OverloadShedding {

    /** Before the body-size check (-3) and every route that reads a body. */
    private static final int ORDER = -4;

    private static final Buffer BODY = refusal(FailureKind.POOL_EXHAUSTED.advice());
    /** The crowd limit's refusal: the same kind, clients handle it alike; its advice does not blame the pool. */
    private static final Buffer CROWD_BODY = refusal("More callers than the service's cores serve quickly: retry the request after the Retry-After delay.");

    private static Buffer refusal(String suggestion) {
        return Buffer.buffer("{\"type\":\"" + Problem.type(FailureKind.POOL_EXHAUSTED.problemSlug())
                + "\",\"title\":\"" + FailureKind.POOL_EXHAUSTED.title() + "\",\"status\":503,\"detail\":"
                + "\"The service is at capacity: this request could not be served within its deadline.\",\"kind\":\""
                + FailureKind.POOL_EXHAUSTED.problemSlug() + "\",\"suggestion\":\"" + suggestion + "\"}");
    }

    private final UnitOfWork unitOfWork;
    private final RefusalHold hold;
    private final CrowdLimit crowd;

    public OverloadShedding(UnitOfWork unitOfWork, RefusalHold hold, CrowdLimit crowd) {
        this.unitOfWork = unitOfWork;
        this.hold = hold;
        this.crowd = crowd;
    }

    /**
     * Stopping: nobody is parked any more, and those parked are read now, so that their requests are
     * answered (with Connection: close) rather than cut off with the connection. Best effort: this runs
     * after Quarkus has drained the requests it had read, before the HTTP server closes.
     */
    void resumeParked(@Observes ShutdownEvent stopping) {
        unitOfWork.stopParking();
    }

    void register(@Observes Router router) {
        router.route("/customers*").order(ORDER).handler(ctx -> {
            // reads and writes have lanes of their own in the admission: a crowd of one is refused on its lane only
            boolean read = ctx.request().method() == HttpMethod.GET;
            AtTheDoor request = new AtTheDoor(ctx, read);
            if (!crowd.enter()) {
                request.refuseAsACrowd(crowd.retryAfterMillis());
                return;
            }
            if (ctx.response().closed()) { // hung up already: no end handler would run
                crowd.leave();
                return;
            }
            ctx.addEndHandler(ended -> request.leaveTheCores()); // answered, refused or hung up
            long retryAfterMillis = unitOfWork.arrive(read, request);
            if (retryAfterMillis >= 0) {
                request.refuse(retryAfterMillis, 0);
            }
        });
    }

    /** The request as the admission's door sees it (a class, not a record: records here are the API's JSON types). */
    private final class AtTheDoor implements DoorRequest {

        private final RoutingContext ctx;
        private final boolean read;
        private final AtomicBoolean left = new AtomicBoolean(); // refused (its hold holds no core) or ended: the sweep refuses on its own thread

        AtTheDoor(RoutingContext ctx, boolean read) {
            this.ctx = ctx;
            this.read = read;
        }

        @Override
        public void goIn() {
            if (!ctx.response().closed()) { // else the caller hung up as it was let in
                ctx.next();
            }
        }

        /** During a storm of refusals, after what its hold has left once the wait at the door is counted. */
        @Override
        public void refuse(long retryAfterMillis, long waitedMillis) {
            leaveTheCores(); // a refusal held for seconds holds no core
            hold.answer(() -> send(retryAfterMillis), waitedMillis);
        }

        /** No longer counted by the crowd limit: once, whichever of its refusal and its end comes first. */
        void leaveTheCores() {
            if (left.compareAndSet(false, true)) {
                crowd.leave();
            }
        }

        /** Refused by the crowd limit, on arrival; held during a storm as any refusal. */
        void refuseAsACrowd(long retryAfterMillis) {
            hold.answer(() -> send(retryAfterMillis, CROWD_BODY), 0);
        }

        private void send(long retryAfterMillis) {
            send(retryAfterMillis, BODY);
        }

        private void send(long retryAfterMillis, Buffer body) {
            if (!ctx.response().closed()) { // the caller may have hung up during a hold or a wait
                ctx.response().setStatusCode(503)
                        .putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE)
                        .putHeader(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, (retryAfterMillis + 999) / 1000)))
                        .end(body.copy());
            }
        }

        @Override
        public void onHangUp(Runnable leave) {
            if (ctx.response().closed()) {
                leave.run();
            } else {
                ctx.addEndHandler(ended -> { // ended or closed: either way no longer at the door
                    leave.run();
                    if (ended.succeeded()) {
                        parkWhileCrowded();
                    }
                });
            }
        }

        /**
         * Answered after a wait at the door: while the door is still crowded, the connection's next request
         * is left unread until the door has room (see {@link UnitOfWork#park}). Only an HTTP/1.1 connection
         * that stays open; HTTP/2 carries many callers on one connection. Runs on the connection's own event
         * loop, where its pause and resume must run (the resume is a task there, so it always comes after
         * this pause); an answer ended elsewhere does not park.
         */
        private void parkWhileCrowded() {
            HttpServerRequest request = ctx.request();
            if (request.connection() instanceof Http1xServerConnection connection
                    && request.version() == HttpVersion.HTTP_1_1
                    && connection.getContext().nettyEventLoop().inEventLoop()
                    && !"close".equalsIgnoreCase(request.getHeader(HttpHeaders.CONNECTION))
                    && !"close".equalsIgnoreCase(ctx.response().headers().get(HttpHeaders.CONNECTION))) { // closing: a shutdown's drain
                ContextInternal itsLoop = connection.getContext();
                if (unitOfWork.park(read, () -> itsLoop.runOnContext(resumed -> connection.doResume()))) {
                    connection.doPause();
                }
            }
        }
    }
}
