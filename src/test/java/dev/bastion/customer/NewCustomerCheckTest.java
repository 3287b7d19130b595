package dev.bastion.customer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.SplittableRandom;

import jakarta.validation.Validation;
import jakarta.validation.Validator;
import org.hibernate.validator.messageinterpolation.ParameterMessageInterpolator;
import org.junit.jupiter.api.Test;

/**
 * The hand check of a create's body passes nothing Bean Validation refuses (else a bad body would reach
 * the database), and passes the bodies callers usually send (else it would save nothing).
 */
class NewCustomerCheckTest {

    private static final Validator BEAN_VALIDATION = Validation.byDefaultProvider().configure()
            .messageInterpolator(new ParameterMessageInterpolator()).buildValidatorFactory().getValidator();

    private static final String[] EMAIL_PIECES = {"a", "Z", "0", "ada", "x9", ".", "..", "-", "_", "+", "@", "@@", "\"",
            "\"q\"", " ", "é", "ü", "!", "#", "$", "%", "&", "'", "*", "/", "=", "?", "^", "`", "{", "|", "}", "~", "(",
            ")", ",", ":", ";", "<", ">", "[", "]", "\\", "[127.0.0.1]", "example.com", "com", "-x", "x-", "xn--bcher-kva",
            "b\u00FCcher", "\u0000", "\t", "a".repeat(63), "b".repeat(64), "c".repeat(65)};
    private static final String[] NAME_PIECES = {"Ada", " ", "\t", "\u00A0", "\u2003", "\n", "x", "\u0000", "Lovelace", "é",
            "a".repeat(100)};
    /** The pieces of ordinary addresses, where the hand check's own edges (dots, hyphens, lengths) are. */
    private static final String[] PLAIN_EMAIL_PIECES = {"a", "Z", "0", "ada", "x9", ".", "-", "_", "+", "example", "com",
            "a".repeat(30)};
    private static final String[] PHONE_PIECES = {"+", "1", "555", " ", "(", ")", ".", "/", "-", "x", "0", "++", "12345678901234567890"};

    @Test
    void passesOnlyWhatBeanValidationPasses() {
        SplittableRandom random = new SplittableRandom(29);
        int passed = 0;
        for (int i = 0; i < 200_000; i++) {
            boolean plain = random.nextBoolean(); // half built from ordinary pieces, so that many pass by hand
            CreateCustomerRequest request = new CreateCustomerRequest(plain ? "Ada " + text(random, NAME_PIECES, 2)
                    : text(random, NAME_PIECES, 4), email(random, plain ? PLAIN_EMAIL_PIECES : EMAIL_PIECES),
                    random.nextInt(3) == 0 ? null : text(random, PHONE_PIECES, 8), null, balance(random, plain));
            if (NewCustomerCheck.plainlyValid(request)) {
                passed++;
                assertTrue(BEAN_VALIDATION.validate(request).isEmpty(),
                        () -> "passed by hand, refused by Bean Validation: " + request + " " + BEAN_VALIDATION.validate(request));
            }
        }
        assertTrue(passed > 2_000, "the hand check passed " + passed + " of 200,000: too few to show anything");
    }

    @Test
    void passesOnlyTheIdempotencyKeysBeanValidationPasses() {
        SplittableRandom random = new SplittableRandom(30);
        var validated = BEAN_VALIDATION.forExecutables();
        CreateCustomerRequest body = new CreateCustomerRequest("Ada", "ada@example.com", null, null, null);
        int passed = 0;
        int refused = 0;
        for (int i = 0; i < 100_000; i++) {
            StringBuilder key = new StringBuilder();
            int length = random.nextInt(4) == 0 ? 195 + random.nextInt(10) : random.nextInt(40);
            for (int c = 0; c < length; c++) { // mostly printable ASCII, its edges, and now and then anything else
                key.append((char) (random.nextInt(8) == 0 ? random.nextInt(0x3000) : 0x1E + random.nextInt(0x64)));
            }
            String candidate = key.toString();
            boolean valid = validated.validateParameters(NewCustomerCheck.Parameters.INSTANCE, NewCustomerCheck.Parameters.CREATE,
                    new Object[] {body, candidate}).isEmpty();
            assertTrue(valid == NewCustomerCheck.plainKey(candidate), () -> "hand check and Bean Validation differ on " + candidate);
            if (valid) {
                passed++;
            } else {
                refused++;
            }
        }
        assertTrue(passed > 5_000 && refused > 5_000, passed + " passed, " + refused + " refused: too few of one to show anything");
        assertTrue(NewCustomerCheck.plainKey(null), "the key is optional");
        assertFalse(validated.validateParameters(NewCustomerCheck.Parameters.INSTANCE, NewCustomerCheck.Parameters.CREATE,
                new Object[] {null, null}).isEmpty(), "a body is required");
    }

    @Test
    void passesTheBodiesCallersUsuallySend() {
        for (String email : new String[] {"ada@example.com", "c123-4f2a@bench.example", "Grace.Hopper+navy@mail.co.uk",
                "first_last@sub-domain.example.org", "x@localhost"}) {
            CreateCustomerRequest request = new CreateCustomerRequest("Ada Lovelace", email, "+1 (555) 010-0100", null,
                    new BigDecimal("100.50"));
            assertTrue(NewCustomerCheck.plainlyValid(request), email);
            assertTrue(BEAN_VALIDATION.validate(request).isEmpty(), email);
        }
        assertTrue(NewCustomerCheck.plainlyValid(new CreateCustomerRequest("Customer 1", "c1@example.com", null, null, null)));
    }

    @Test
    void leavesEveryConstraintsEdgeToBeanValidation() {
        String[] refused = {" \t", "a".repeat(201)};
        for (String name : refused) {
            assertFalse(NewCustomerCheck.plainlyValid(new CreateCustomerRequest(name, "a@example.com", null, null, null)), name);
        }
        for (BigDecimal balance : new BigDecimal[] {new BigDecimal("-0.01"), new BigDecimal("1000000000000"),
                new BigDecimal("0.001"), new BigDecimal("999999999999.991")}) {
            assertFalse(NewCustomerCheck.plainlyValid(new CreateCustomerRequest("Ada", "a@example.com", null, null, balance)),
                    balance.toPlainString());
        }
        for (String email : new String[] {".a@example.com", "a.@example.com", "a..b@example.com", "a@-example.com",
                "a@example-.com", "a@example..com", "a@", "@example.com", "a@example.com.", "\"a\"@example.com"}) {
            assertFalse(NewCustomerCheck.plainEmail(email), email);
        }
    }

    private static String text(SplittableRandom random, String[] pieces, int most) {
        StringBuilder text = new StringBuilder();
        for (int n = random.nextInt(most + 1); n > 0; n--) {
            text.append(pieces[random.nextInt(pieces.length)]);
        }
        return random.nextInt(50) == 0 ? null : text.toString();
    }

    /** Mostly address-shaped: local part, @, domain, each from pieces that include every edge. */
    private static String email(SplittableRandom random, String[] pieces) {
        if (random.nextInt(10) == 0) {
            return text(random, pieces, 6);
        }
        return text(random, pieces, 3) + "@" + text(random, pieces, 2)
                + (random.nextBoolean() ? "." + text(random, pieces, 2) : "");
    }

    private static BigDecimal balance(SplittableRandom random, boolean plain) {
        if (random.nextInt(4) == 0) {
            return null;
        }
        if (plain) { // around the edges: 0, the largest, two decimals
            return BigDecimal.valueOf(random.nextLong(-10, 100_000_000_000_010L), random.nextInt(0, 3));
        }
        BigInteger unscaled = BigInteger.valueOf(random.nextLong(-1_000_000_000_000_000L, 1_000_000_000_000_000L))
                .shiftRight(random.nextInt(60));
        return new BigDecimal(unscaled, random.nextInt(-3, 6));
    }
}
