package dev.bastion.customer;

import java.lang.reflect.Method;
import java.math.BigDecimal;
import java.util.Set;
import java.util.regex.Pattern;

import dev.bastion.idempotency.ValidIdempotencyKey;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.inject.Singleton;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.validation.Validator;
import jakarta.validation.constraints.NotNull;

/**
 * The body of a create, checked against {@link CreateCustomerRequest}'s constraints. A plain body (the
 * usual name, an address such as {@code ada@example.com}) is passed by hand; any other goes through Bean
 * Validation, whose violations (and so the 422 the caller gets) are exactly those of {@code @Valid}.
 * The hand check passes a subset of what Bean Validation passes (NewCustomerCheckTest), never more. Why:
 * cascading validation into the body was ~6 % of a create's CPU, the e-mail check a third of that
 * (bench/profile); creates are the API's most frequent write.
 * <p>
 * The create's parameters (a body is required, the Idempotency-Key's format) are checked the same
 * way: by hand when plainly valid, else by Bean Validation against {@link Parameters}, which declares
 * them as the resource method did. Constraints on the resource method itself made Quarkus validate
 * every create's parameters and return value in an interceptor (~5 % of a create's CPU).
 */
@Singleton
public class NewCustomerCheck {

    private static final Pattern PHONE = Pattern.compile(CreateCustomerRequest.PHONE);
    private static final BigDecimal MAX_BALANCE = new BigDecimal(CreateCustomerRequest.BALANCE_MAX);

    private final Validator validator;

    public NewCustomerCheck(Validator validator) {
        this.validator = validator;
    }

    /**
     * {@code request}, or a {@link ConstraintViolationException} with Bean Validation's own violations:
     * of the parameters first (a 400, as for any parameter), then of the body (a 422).
     */
    CreateCustomerRequest checked(CreateCustomerRequest request, String idempotencyKey) {
        if (request == null || !plainKey(idempotencyKey)) {
            Set<ConstraintViolation<Parameters>> violations = validator.forExecutables()
                    .validateParameters(Parameters.INSTANCE, Parameters.CREATE, new Object[] {request, idempotencyKey});
            if (!violations.isEmpty()) {
                throw new ConstraintViolationException(violations);
            }
        }
        if (plainlyValid(request)) {
            return request;
        }
        Set<ConstraintViolation<CreateCustomerRequest>> violations = validator.validate(request);
        if (!violations.isEmpty()) {
            throw new ConstraintViolationException(violations);
        }
        return request;
    }

    /**
     * The create's parameters as Bean Validation checks them, declared as the resource method declared
     * them (the names are the ones a violation's path carries: {@code body}, {@code idempotencyKey}).
     */
    @RegisterForReflection(methods = true)
    static final class Parameters {
        static final Parameters INSTANCE = new Parameters();
        static final Method CREATE;

        static {
            try {
                CREATE = Parameters.class.getDeclaredMethod("create", CreateCustomerRequest.class, String.class);
            } catch (NoSuchMethodException e) {
                throw new IllegalStateException(e);
            }
        }

        @SuppressWarnings("unused")
        void create(@NotNull(message = "a JSON body is required") CreateCustomerRequest body,
                    @ValidIdempotencyKey String idempotencyKey) {
        }
    }

    /** Absent, or 1 to 200 printable ASCII characters without spaces: {@link ValidIdempotencyKey}, surely. */
    static boolean plainKey(String key) {
        if (key == null) {
            return true;
        }
        if (key.isEmpty() || key.length() > ValidIdempotencyKey.MAX_LENGTH) {
            return false;
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < 0x21 || c > 0x7E) {
                return false;
            }
        }
        return true;
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
