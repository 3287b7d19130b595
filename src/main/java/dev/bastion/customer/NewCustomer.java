package dev.bastion.customer;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * The customer a create request asks for, normalised once (names and emails stripped, the default
 * status and balance filled in), whichever way it is then written: as one INSERT statement
 * ({@link CustomerRepository#insert}) or as an entity inside a larger unit (imports, keyed creates).
 */
record NewCustomer(String name, String email, String phone, CustomerStatus status, BigDecimal creditBalance) {

    static NewCustomer of(CreateCustomerRequest request) {
        // scale 2 like NUMERIC(14,2), so the create response shows what a later GET shows
        BigDecimal balance = request.creditBalance() == null
                ? BigDecimal.ZERO.setScale(2)
                : request.creditBalance().setScale(Math.max(2, request.creditBalance().scale()), RoundingMode.UNNECESSARY);
        return new NewCustomer(strip(request.name()), strip(request.email()), request.phone(),
                request.status() == null ? CustomerStatus.ACTIVE : request.status(), balance);
    }

    Customer toEntity() {
        Customer customer = new Customer();
        customer.name = name;
        customer.email = email;
        customer.phone = phone;
        customer.status = status;
        customer.creditBalance = creditBalance;
        return customer;
    }

    // null-safe: Bean Validation normally rejects nulls first, but the schema is the last word
    static String strip(String value) {
        return value == null ? null : value.strip();
    }
}
