package dev.bastion.note;

import java.util.List;

import io.quarkus.hibernate.reactive.panache.PanacheRepository;
import io.quarkus.panache.common.Page;
import io.quarkus.panache.common.Sort;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

@ApplicationScoped
public class CustomerNoteRepository implements PanacheRepository<CustomerNote> {

    public Uni<List<CustomerNote>> page(long customerId, int page, int size) {
        return find("customerId", Sort.by("id"), customerId).page(Page.of(page, size)).list();
    }

    public Uni<Long> countFor(long customerId) {
        return count("customerId", customerId);
    }

    public Uni<CustomerNote> findFor(long customerId, long noteId) {
        return find("id = ?1 and customerId = ?2", noteId, customerId).firstResult();
    }
}
