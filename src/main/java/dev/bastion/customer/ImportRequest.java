package dev.bastion.customer;

import java.util.List;

import jakarta.validation.Valid;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Size;

/** Body of POST /customers/import: up to 100 customers, created together. */
public record ImportRequest(@NotNull @Size(min = 1, max = 100) List<@NotNull @Valid CreateCustomerRequest> customers) {
}
