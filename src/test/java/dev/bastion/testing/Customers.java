package dev.bastion.testing;

import static io.restassured.RestAssured.given;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.UUID;

import io.restassured.http.ContentType;

/**
 * Customers for tests: created through the API (as a caller would), and their rows read back
 * directly from PostgreSQL (as a second client), so that tests assert data, not only responses.
 */
public final class Customers {

    private Customers() {
    }

    /** An email no other test uses: the test database is shared by every test class. */
    public static String uniqueEmail() {
        return "c-" + UUID.randomUUID() + "@example.org";
    }

    /** Creates a customer with no credit; returns its id. */
    public static long createCustomer(String email) {
        return createCustomer(email, "0");
    }

    /** Creates a customer with {@code credit} (a JSON number); returns its id. */
    public static long createCustomer(String email, String credit) {
        return given().contentType(ContentType.JSON)
                .body("{\"name\":\"Ada Lovelace\",\"email\":\"" + email + "\",\"creditBalance\":" + credit + "}")
                .post("/customers")
                .then().statusCode(201)
                .extract().jsonPath().getLong("id");
    }

    /** The customer's credit balance as stored. */
    public static BigDecimal balance(long id) throws SQLException {
        return new BigDecimal(SecondClient.queryString("SELECT credit_balance FROM customer WHERE id = " + id));
    }

    /** Stored customers with this email, ignoring case (as the unique index does). */
    public static int rowsWithEmail(String email) throws SQLException {
        try (Connection c = PostgresResource.connect();
             PreparedStatement s = c.prepareStatement("SELECT count(*) FROM customer WHERE lower(email) = lower(?)")) {
            s.setString(1, email);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }
}
