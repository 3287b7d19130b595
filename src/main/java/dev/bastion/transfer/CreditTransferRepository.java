package dev.bastion.transfer;

import io.quarkus.hibernate.reactive.panache.PanacheRepository;
import jakarta.enterprise.context.ApplicationScoped;

@ApplicationScoped
public class CreditTransferRepository implements PanacheRepository<CreditTransfer> {
}
