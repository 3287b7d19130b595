package dev.bastion.customer;

import java.math.BigDecimal;
import java.util.Set;
import java.util.regex.Pattern;

import jakarta.inject.Singleton;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.validation.Validator;

/**
 * The body of a create, checked against {@link CreateCustomerRequest}'s constraints. A plain body (the
 * usual name, an address such as {@code ada@example.com}) is passed by hand; any other goes through Bean
 * Validation, whose violations (and so the 422 the caller gets) are exactly those of {@code @Valid}.
 * The hand check passes a subset of what Bean Validation passes (NewCustomerCheckTest), never more. Why:
 * cascading validation into the body was ~6 % of a create's CPU, the e-mail check a third of that
 * (bench/profile); creates are the API's most frequent write.
 */
@Singleton
public class NewCustomerCheck {

    private static final Pattern PHONE = Pattern.compile(CreateCustomerRequest.PHONE);
    private static final BigDecimal MAX_BALANCE = new BigDecimal(CreateCustomerRequest.BALANCE_MAX);

    private final Validator validator;

    public NewCustomerCheck(Validator validator) {
        this.validator = validator;
    }

    /** {@code request}, or a {@link ConstraintViolationException} with Bean Validation's own violations. */
    CreateCustomerRequest checked(CreateCustomerRequest request) {
        if (request == null || plainlyValid(request)) {
            return request; // null: the parameter's own @NotNull answers it
        }
        Set<ConstraintViolation<CreateCustomerRequest>> violations = validator.validate(request);
        if (!violations.isEmpty()) {
            throw new ConstraintViolationException(violations);
        }
        return request;
    }

    static boolean plainlyValid(CreateCustomerRequest request) {
        return visible(request.name()) && request.name().length() <= CreateCustomerRequest.NAME_MAX
                && request.email() != null && request.email().length() <= CreateCustomerRequest.EMAIL_MAX
                && plainEmail(request.email())
                && (request.phone() == null || request.phone().length() <= CreateCustomerRequest.PHONE_MAX
                        && PHONE.matcher(request.phone()).matches())
                && (request.creditBalance() == null || plainBalance(request.creditBalance()));
    }

    /** @NotBlank, surely: a letter or digit somewhere (a name of only symbols and spaces is left to it). */
    private static boolean visible(String text) {
        if (text == null) {
            return false;
        }
        for (int i = 0; i < text.length(); i++) {
            if (Character.isLetterOrDigit(text.charAt(i))) {
                return true;
            }
        }
        return false;
    }

    /** 0 to 999,999,999,999.99, at most 12 integer and 2 fraction digits, as @DecimalMin, @DecimalMax and @Digits count them. */
    private static boolean plainBalance(BigDecimal balance) {
        if (balance.signum() < 0 || balance.compareTo(MAX_BALANCE) > 0) {
            return false;
        }
        // as written, trailing zeros included: 0.0000 has four fraction digits for @Digits
        return balance.precision() - balance.scale() <= CreateCustomerRequest.BALANCE_INTEGER_DIGITS
                && Math.max(balance.scale(), 0) <= CreateCustomerRequest.BALANCE_FRACTION_DIGITS;
    }

    /**
     * A local part of letters, digits and {@code . _ + -} (no leading, trailing or doubled dot, at most
     * 64), an @, and a host name of ASCII labels (letters, digits, inner hyphens; 1 to 63 each, at most
     * 253 in all). Quoted local parts, other symbols, non-ASCII and address literals are left to @Email.
     */
    static boolean plainEmail(String email) {
        int at = email.indexOf('@');
        if (at < 1 || at > 64 || email.charAt(0) == '.' || email.charAt(at - 1) == '.') {
            return false;
        }
        for (int i = 0; i < at; i++) {
            char c = email.charAt(i);
            boolean symbol = c == '.' || c == '_' || c == '+' || c == '-';
            if (!(letterOrDigit(c) || symbol) || c == '.' && email.charAt(i + 1) == '.') {
                return false;
            }
        }
        int end = email.length();
        if (end - at - 1 < 1 || end - at - 1 > 253) {
            return false;
        }
        int label = at + 1;
        for (int i = at + 1; i <= end; i++) {
            char c = i < end ? email.charAt(i) : '.';
            if (c == '.') {
                int length = i - label;
                if (length < 1 || length > 63 || email.charAt(label) == '-' || email.charAt(i - 1) == '-') {
                    return false;
                }
                label = i + 1;
            } else if (!(letterOrDigit(c) || c == '-')) {
                return false;
            }
        }
        return true;
    }

    private static boolean letterOrDigit(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9';
    }
}
