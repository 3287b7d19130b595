package dev.bastion.customer;

/** Lifecycle of a customer; mirrors the customer_status_check constraint. */
public enum CustomerStatus {
    ACTIVE, SUSPENDED, CLOSED
}
