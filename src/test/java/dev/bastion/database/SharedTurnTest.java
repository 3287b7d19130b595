package dev.bastion.database;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Who rides along with whom in the admission (no database: which reads one place answers, not what
 * PostgreSQL does; {@code SharedReadsTest} runs the statements). Only reads queued behind a leader of
 * their group ride with it, up to the group's most; a rider is answered only by its leader; a leader
 * whose statement does not answer puts its riders back at the head of the queue (but those whose
 * request deadline passed, or whose caller went away).
 */
class SharedTurnTest {

    private static final long SECOND = 1_000_000_000L;
    private static final Object GROUP = new Object();

    private final Vertx vertx = Vertx.vertx();

    @AfterEach
    void close() {
        vertx.close().toCompletionStage().toCompletableFuture().join();
    }

    private record Read(PoolAdmission.SharedTurn turn, CompletableFuture<PoolAdmission.Release> admitted) {
    }

    private static Read read(PoolAdmission admission, Object group, long key, int most) {
        PoolAdmission.SharedTurn turn = group == null ? null : new PoolAdmission.SharedTurn(group, key, most);
        return new Read(turn, admission.enter(new CommitGate(System.nanoTime() + 30 * SECOND), PoolAdmission.Lane.READ, turn)
                .subscribeAsCompletionStage());
    }

    /** The only place, taken; then {@code count} reads of {@code GROUP} queued behind it, keys 1 to count. */
    private static List<Read> queueBehindTheOnlyPlace(PoolAdmission admission, int count, int most,
                                                       List<PoolAdmission.Release> holder) throws Exception {
        holder.add(read(admission, null, 0, most).admitted().get(5, TimeUnit.SECONDS));
        List<Read> queued = new ArrayList<>();
        for (int key = 1; key <= count; key++) {
            queued.add(read(admission, GROUP, key, most));
        }
        assertEquals(count, admission.waiters());
        return queued;
    }

    @Test
    void aPlaceFreedTakesTheQueuedReadsOfItsGroupUpToTheMostAndOnlyTheLeaderAnswersThem() throws Exception {
        PoolAdmission admission = new PoolAdmission(vertx, 1, 100, 30 * SECOND);
        List<PoolAdmission.Release> holder = new ArrayList<>();
        List<Read> queued = queueBehindTheOnlyPlace(admission, 6, 4, holder);

        holder.get(0).done(true);
        PoolAdmission.Release leaderRelease = queued.get(0).admitted().get(5, TimeUnit.SECONDS);
        assertNotSame(PoolAdmission.RODE, leaderRelease);
        assertEquals(List.of(1L, 2L, 3L, 4L), queued.get(0).turn().keys(), "the leader and the three behind it (most 4)");
        assertEquals(2, admission.waiters(), "reads 5 and 6 still wait for a place");
        Thread.sleep(100);
        for (int i = 1; i < 4; i++) {
            assertFalse(queued.get(i).admitted().isDone(), "a rider is answered by its leader's statement, not before");
        }

        Map<Long, String> found = Map.of(1L, "one", 2L, "two", 4L, "four"); // 3 does not exist
        admission.answerRiders(queued.get(0).turn(), found);
        for (int i = 1; i < 4; i++) {
            assertSame(PoolAdmission.RODE, queued.get(i).admitted().get(5, TimeUnit.SECONDS));
            assertSame(found, queued.get(i).turn().answer());
        }
        assertEquals(3, admission.readsRiddenAlong());

        leaderRelease.done(true); // the place goes to read 5, which leads read 6
        assertNotSame(PoolAdmission.RODE, queued.get(4).admitted().get(5, TimeUnit.SECONDS));
        assertEquals(List.of(5L, 6L), queued.get(4).turn().keys());
        assertEquals(0, admission.waiters());
    }

    @Test
    void readsOfAnotherGroupOrNoGroupDoNotRide() throws Exception {
        PoolAdmission admission = new PoolAdmission(vertx, 1, 100, 30 * SECOND);
        List<PoolAdmission.Release> holder = new ArrayList<>();
        holder.add(read(admission, null, 0, 32).admitted().get(5, TimeUnit.SECONDS));
        Read leader = read(admission, GROUP, 1, 32);
        Read rider = read(admission, GROUP, 2, 32);
        Read otherGroup = read(admission, new Object(), 3, 32);
        Read sameGroupBehind = read(admission, GROUP, 4, 32);

        holder.get(0).done(true);
        leader.admitted().get(5, TimeUnit.SECONDS);
        assertEquals(List.of(1L, 2L), leader.turn().keys(), "riders are taken from the head of the queue, in order");
        assertEquals(2, admission.waiters());
        assertFalse(otherGroup.admitted().isDone());
        assertFalse(sameGroupBehind.admitted().isDone());
        admission.answerRiders(leader.turn(), Map.of());
        assertSame(PoolAdmission.RODE, rider.admitted().get(5, TimeUnit.SECONDS));
    }

    @Test
    void aLeaderCutShortAloneSendsItsRidersBackToTheHeadOfTheQueue() throws Exception {
        PoolAdmission admission = new PoolAdmission(vertx, 1, 100, 30 * SECOND);
        List<PoolAdmission.Release> holder = new ArrayList<>();
        List<Read> queued = queueBehindTheOnlyPlace(admission, 3, 32, holder);
        holder.get(0).done(true);
        PoolAdmission.Release leaderRelease = queued.get(0).admitted().get(5, TimeUnit.SECONDS);
        assertEquals(0, admission.waiters());
        Read later = read(admission, null, 9, 32); // not a shared read: queued behind

        admission.endRiders(queued.get(0).turn()); // its statement failed, or its deadline passed
        assertEquals(3, admission.waiters(), "both riders back in the queue");
        leaderRelease.done(false);
        PoolAdmission.Release newLeader = queued.get(1).admitted().get(5, TimeUnit.SECONDS);
        assertNotSame(PoolAdmission.RODE, newLeader);
        assertEquals(List.of(2L, 3L), queued.get(1).turn().keys(), "the first rider leads, ahead of the later read");
        assertFalse(later.admitted().isDone());
        admission.answerRiders(queued.get(1).turn(), Map.of(3L, "three"));
        assertSame(PoolAdmission.RODE, queued.get(2).admitted().get(5, TimeUnit.SECONDS));
        assertEquals(Map.of(3L, "three"), queued.get(2).turn().answer());
        assertEquals(1, admission.readsRiddenAlong());
    }

    @Test
    void aRiderWhoseRequestDeadlinePassedWhileItRodeIsNotPutBack() throws Exception {
        PoolAdmission admission = new PoolAdmission(vertx, 1, 100, 30 * SECOND);
        List<PoolAdmission.Release> holder = new ArrayList<>();
        holder.add(read(admission, null, 0, 32).admitted().get(5, TimeUnit.SECONDS));
        Read leader = read(admission, GROUP, 1, 32);
        PoolAdmission.SharedTurn shortTurn = new PoolAdmission.SharedTurn(GROUP, 2L, 32);
        CompletableFuture<PoolAdmission.Release> shortLived = admission.enter(
                new CommitGate(System.nanoTime() + SECOND), PoolAdmission.Lane.READ, shortTurn).subscribeAsCompletionStage();
        Read rider = read(admission, GROUP, 3, 32);
        holder.get(0).done(true);
        PoolAdmission.Release leaderRelease = leader.admitted().get(5, TimeUnit.SECONDS);
        assertEquals(List.of(1L, 2L, 3L), leader.turn().keys());

        Thread.sleep(1_300); // the second rider's request deadline passes while it rides (its caller is answered by its timer)
        admission.endRiders(leader.turn());
        assertEquals(1, admission.waiters(), "only the rider still in time goes back to the queue");
        leaderRelease.done(false);
        assertNotSame(PoolAdmission.RODE, rider.admitted().get(5, TimeUnit.SECONDS));
        assertEquals(List.of(3L), rider.turn().keys());
        assertFalse(shortLived.isDone());
    }

    @Test
    void aRiderWhoseCallerWentAwayIsNeitherAnsweredNorRequeued() throws Exception {
        PoolAdmission admission = new PoolAdmission(vertx, 1, 100, 30 * SECOND);
        List<PoolAdmission.Release> holder = new ArrayList<>();
        holder.add(read(admission, null, 0, 32).admitted().get(5, TimeUnit.SECONDS));
        Read leader = read(admission, GROUP, 1, 32);
        PoolAdmission.SharedTurn goneTurn = new PoolAdmission.SharedTurn(GROUP, 2L, 32);
        CompletableFuture<PoolAdmission.Release> gone = new CompletableFuture<>();
        var subscription = admission.enter(new CommitGate(System.nanoTime() + 30 * SECOND), PoolAdmission.Lane.READ, goneTurn)
                .subscribe().with(gone::complete, gone::completeExceptionally);
        holder.get(0).done(true);
        leader.admitted().get(5, TimeUnit.SECONDS);
        assertEquals(List.of(1L, 2L), leader.turn().keys());

        subscription.cancel(); // its caller hung up while it rode
        admission.endRiders(leader.turn());
        assertEquals(0, admission.waiters(), "a rider gone is not put back in the queue");
        Thread.sleep(100);
        assertFalse(gone.isDone());
        assertTrue(leader.turn().keys().size() == 1, "the leader has no riders left");
    }
}
