package dev.bastion.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

import io.smallrye.jwt.build.Jwt;

/** Bearer tokens for the admin API, signed with the test-only key in src/test/resources/jwt. */
public final class AdminTokens {

    public static final String ISSUER = "https://bastion.test/issuer";
    private static final Path KEYS = Path.of("src/test/resources/jwt").toAbsolutePath();

    private AdminTokens() {
    }

    /** Standard MicroProfile JWT settings pointing at the test public key (absolute, so the packaged jar finds it). */
    static Map<String, String> verification() {
        return Map.of("mp.jwt.verify.publickey.location", KEYS.resolve("test-public-key.pem").toUri().toString(),
                "mp.jwt.verify.issuer", ISSUER);
    }

    public static String withGroups(String... groups) {
        return Jwt.issuer(ISSUER).upn("operator@bastion.test").groups(Set.of(groups)).expiresIn(600).sign(privateKey());
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
