package dev.bastion.reference;

import java.math.BigDecimal;

/** Body of POST /customers, as Bastion accepts it. */
public record NewCustomer(String name, String email, String phone, String status, BigDecimal creditBalance) {
}
