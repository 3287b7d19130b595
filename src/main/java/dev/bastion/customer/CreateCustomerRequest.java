package dev.bastion.customer;

import java.math.BigDecimal;

import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Digits;
import jakarta.validation.constraints.Email;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/** Body of POST /customers. Limits mirror the schema so most bad input never reaches PostgreSQL. */
public record CreateCustomerRequest(
        @NotBlank @Size(max = 200) String name,
        @NotBlank @Email @Size(max = 320) String email,
        @Size(max = 40) @Pattern(regexp = CreateCustomerRequest.PHONE, message = "must be a phone number") String phone,
        CustomerStatus status,
        @DecimalMin("0") @DecimalMax("999999999999.99") @Digits(integer = 12, fraction = 2) BigDecimal creditBalance) {

    static final String PHONE = "^\\+?[0-9 ()./-]{3,40}$";
}
