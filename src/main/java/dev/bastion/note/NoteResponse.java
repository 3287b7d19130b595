package dev.bastion.note;

import java.time.Instant;

public record NoteResponse(Long id, Long customerId, String body, Instant createdAt) {

    static NoteResponse of(CustomerNote n) {
        return new NoteResponse(n.id, n.customerId, n.body, n.createdAt);
    }
}
