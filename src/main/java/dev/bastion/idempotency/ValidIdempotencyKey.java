package dev.bastion.idempotency;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import jakarta.validation.Constraint;
import jakarta.validation.Payload;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/**
 * What an {@code Idempotency-Key} header may contain, declared once for every keyed write:
 * 1 to 200 printable ASCII characters without spaces. Absent (null) is valid: the key is optional.
 */
@Size(min = 1, max = ValidIdempotencyKey.MAX_LENGTH)
@Pattern(regexp = ValidIdempotencyKey.FORMAT, message = "must be printable ASCII without spaces")
@Constraint(validatedBy = {})
@Documented
@Target({ElementType.PARAMETER, ElementType.FIELD})
@Retention(RetentionPolicy.RUNTIME)
public @interface ValidIdempotencyKey {

    int MAX_LENGTH = 200;
    String FORMAT = "[\\x21-\\x7E]+";

    String message() default "must be 1 to 200 printable ASCII characters without spaces";

    Class<?>[] groups() default {};

    Class<? extends Payload>[] payload() default {};
}
