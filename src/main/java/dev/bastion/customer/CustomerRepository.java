package dev.bastion.customer;

import java.util.List;

import io.quarkus.hibernate.reactive.panache.PanacheRepository;
import io.quarkus.panache.common.Page;
import io.quarkus.panache.common.Sort;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;

@ApplicationScoped
public class CustomerRepository implements PanacheRepository<Customer> {

    /** A page in id order: stable across calls, unlike the table's physical order. */
    public Uni<List<Customer>> page(int page, int size) {
        return findAll(Sort.by("id")).page(Page.of(page, size)).list();
    }

    /** The next {@code size} customers after the one with id {@code after}: a range scan of the primary key. */
    public Uni<List<Customer>> after(long after, int size) {
        return find("id > ?1", Sort.by("id"), after).page(Page.ofSize(size)).list();
    }

    public Uni<List<Customer>> byEmail(String email) {
        return list("lower(email) = lower(?1)", Sort.by("id"), email);
    }
}
