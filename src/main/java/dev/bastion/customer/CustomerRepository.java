package dev.bastion.customer;

import java.math.BigDecimal;
import java.util.List;

import io.quarkus.hibernate.reactive.panache.Panache;

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

    /**
     * Adds {@code amount} to the balance in one statement (row lock, no read-modify-write), bumping
     * {@code version} and {@code updated_at} as the entity's own updates do, so a PUT based on the
     * old version is still refused. Null when there is no such customer. Runs in the caller's transaction.
     */
    public Uni<Customer> addCredit(long id, BigDecimal amount) {
        return Panache.getSession().chain(session -> session.createNativeQuery(ADD_CREDIT, Customer.class)
                .setParameter("amount", amount).setParameter("id", id)
                .getResultList()
                .map(rows -> rows.isEmpty() ? null : rows.get(0)));
    }

    private static final String ADD_CREDIT = """
            UPDATE customer SET credit_balance = credit_balance + :amount, version = version + 1, updated_at = now()
             WHERE id = :id
            RETURNING id, name, email, phone, status, credit_balance, version, created_at, updated_at""";

    /** The next {@code size} customers after the one with id {@code after}: a range scan of the primary key. */
    public Uni<List<Customer>> after(long after, int size) {
        return find("id > ?1", Sort.by("id"), after).page(Page.ofSize(size)).list();
    }

    public Uni<List<Customer>> byEmail(String email) {
        return list("lower(email) = lower(?1)", Sort.by("id"), email);
    }
}
