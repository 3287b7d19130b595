package dev.bastion.note;

import dev.bastion.api.ApiProblem;

/** The note feature's own errors, in API terms. */
final class NoteProblems {

    private NoteProblems() {
    }

    static ApiProblem noteNotFound(long customerId, long noteId) {
        return ApiProblem.status(404, "note-not-found", "Note not found")
                .detail("Customer " + customerId + " has no note with id " + noteId + ".")
                .field("noteId")
                .suggestion("List the customer's notes with GET /customers/" + customerId + "/notes.")
                .build();
    }

    static ApiProblem tooManyNotes(long customerId, int limit) {
        return ApiProblem.status(422, "note-limit-reached", "Too many notes")
                .detail("Customer " + customerId + " already has " + limit + " notes, the most one customer may have.")
                .field("customerId")
                .suggestion("Delete notes that are no longer needed (DELETE /customers/" + customerId + "/notes/{noteId}).")
                .build();
    }

    static ApiProblem customerMissingForNote(long customerId, Throwable cause) {
        return ApiProblem.status(404, "customer-not-found", "Customer not found")
                .detail("No customer with id " + customerId + ", so no note can be attached to it.")
                .field("customerId")
                .suggestion("Create the customer first (POST /customers), or check the id.")
                .causedBy(cause);
    }
}
