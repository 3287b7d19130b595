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
        @NotBlank @Size(max = CreateCustomerRequest.NAME_MAX) String name,
        @NotBlank @Email @Size(max = CreateCustomerRequest.EMAIL_MAX) String email,
        @Size(max = CreateCustomerRequest.PHONE_MAX) @Pattern(regexp = CreateCustomerRequest.PHONE, message = "must be a phone number") String phone,
        CustomerStatus status,
        @DecimalMin("0") @DecimalMax(CreateCustomerRequest.BALANCE_MAX)
        @Digits(integer = CreateCustomerRequest.BALANCE_INTEGER_DIGITS, fraction = CreateCustomerRequest.BALANCE_FRACTION_DIGITS)
        BigDecimal creditBalance) {

    // named once for the annotations and for NewCustomerCheck, which passes plain bodies by hand
    static final int NAME_MAX = 200;
    static final int EMAIL_MAX = 320;
    static final int PHONE_MAX = 40;
    static final String PHONE = "^\\+?[0-9 ()./-]{3,40}$";
    static final String BALANCE_MAX = "999999999999.99";
    static final int BALANCE_INTEGER_DIGITS = 12;
    static final int BALANCE_FRACTION_DIGITS = 2;
}
