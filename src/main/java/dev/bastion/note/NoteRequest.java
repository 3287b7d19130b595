package dev.bastion.note;

import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;

/** Body of POST /customers/{id}/notes. */
public record NoteRequest(@NotBlank @Size(max = 2000) String body) {
}
