package dev.bastion.customer;

import jakarta.validation.constraints.Email;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/**
 * Body of PUT /customers/{id}: replaces the profile. {@code version} is the version the caller read;
 * a stale one is refused (409). Credit changes go through adjustments and transfers, not PUT.
 */
public record UpdateCustomerRequest(
        @NotBlank @Size(max = 200) String name,
        @NotBlank @Email @Size(max = 320) String email,
        @Size(max = 40) @Pattern(regexp = CreateCustomerRequest.PHONE, message = "must be a phone number") String phone,
        @NotNull CustomerStatus status,
        @NotNull @Min(0) Long version) {
}
