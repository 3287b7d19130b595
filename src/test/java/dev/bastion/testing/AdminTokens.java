package dev.bastion.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

import io.smallrye.jwt.build.Jwt;
import io.smallrye.jwt.build.JwtClaimsBuilder;

/** Bearer tokens for the admin API, signed with the test-only key in src/test/resources/jwt. */
public final class AdminTokens {

    public static final String ISSUER = "https://bastion.test/issuer";
    /** The audience the service is configured to accept (mp.jwt.verify.audiences). */
    public static final String AUDIENCE = "https://bastion.test/admin";
    private static final Path KEYS = Path.of("src/test/resources/jwt").toAbsolutePath();

    private AdminTokens() {
    }

    /** Standard MicroProfile JWT settings pointing at the test public key (absolute, so the packaged jar finds it). */
    static Map<String, String> verification() {
        return Map.of("mp.jwt.verify.publickey.location", KEYS.resolve("test-public-key.pem").toUri().toString(),
                "mp.jwt.verify.issuer", ISSUER,
                "mp.jwt.verify.audiences", AUDIENCE);
    }

    public static String withGroups(String... groups) {
        return claims(ISSUER, AUDIENCE, groups).expiresIn(600).sign(privateKey());
    }

    /** An admin token that is right in every way but its signature: another key signed it. */
    public static String signedByAnotherKey() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            return claims(ISSUER, AUDIENCE, "admin").expiresIn(600).sign(generator.generateKeyPair().getPrivate());
        } catch (Exception e) {
            throw new IllegalStateException("cannot generate a key pair", e);
        }
    }

    public static String fromIssuer(String issuer) {
        return claims(issuer, AUDIENCE, "admin").expiresIn(600).sign(privateKey());
    }

    public static String forAudience(String audience) {
        return claims(ISSUER, audience, "admin").expiresIn(600).sign(privateKey());
    }

    /** Expired ten minutes ago, well beyond the verifier's clock skew allowance (60 s). */
    public static String expired() {
        long now = Instant.now().getEpochSecond();
        return claims(ISSUER, AUDIENCE, "admin").issuedAt(now - 1200).expiresAt(now - 600).sign(privateKey());
    }

    private static JwtClaimsBuilder claims(String issuer, String audience, String... groups) {
        return Jwt.issuer(issuer).audience(audience).upn("operator@bastion.test").groups(Set.of(groups));
    }

    public static String admin() {
        return withGroups("admin");
    }

    private static PrivateKey privateKey() {
        try {
            String pem = Files.readString(KEYS.resolve("test-private-key.pem"))
                    .replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the test signing key", e);
        }
    }
}
