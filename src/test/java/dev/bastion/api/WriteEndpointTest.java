package dev.bastion.api;

import static dev.bastion.testing.Customers.createCustomer;
import static dev.bastion.testing.Customers.uniqueEmail;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import dev.bastion.database.WrittenPosition;
import dev.bastion.testing.Ports;
import dev.bastion.testing.PostgresResource;
import dev.bastion.testing.SecondClient;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import org.junit.jupiter.api.Test;

/**
 * With reads allowed on standbys, every write answers with the writer's WAL position and no read does:
 * the response filter is bound to the methods marked {@link WriteEndpoint}, so a write method left
 * unmarked would answer without it and its caller's next read could miss the write. The position
 * comes from the writer (the test's PostgreSQL) whether or not a standby serves reads.
 */
@QuarkusTest
@TestProfile(WriteEndpointTest.ReadsOnStandbys.class)
@WithTestResource(WriteEndpointTest.OneHostReadsPreferStandby.class)
class WriteEndpointTest {

    private static final String LSN = "[0-9A-F]+/[0-9A-F]+";

    public static class ReadsOnStandbys implements QuarkusTestProfile {
    }

    public static class OneHostReadsPreferStandby implements QuarkusTestResourceLifecycleManager {
        @Override
        public Map<String, String> start() {
            Map<String, String> config = new HashMap<>(PostgresResource.datasource(PostgresResource.port()));
            // two hosts, as reads on standbys need; the first is down, so reads go to the writer
            config.put("bastion.db.hosts", "127.0.0.1:" + Ports.closedPort() + ",127.0.0.1:" + PostgresResource.port());
            config.put("bastion.db.read-target", "prefer-standby");
            return config;
        }

        @Override
        public void stop() {
        }
    }

    @Test
    void aWriteAnswersWithTheWritersPositionAfterItsCommitAndAReadWithoutOne() throws Exception {
        String before = SecondClient.queryString("SELECT pg_current_wal_lsn()::text");
        String position = given().contentType(ContentType.JSON)
                .body("{\"name\":\"Ada Lovelace\",\"email\":\"" + uniqueEmail() + "\",\"creditBalance\":1}")
                .post("/customers")
                .then().statusCode(201).header(WrittenPosition.RESPONSE_HEADER, matchesPattern(LSN))
                .extract().header(WrittenPosition.RESPONSE_HEADER);
        // at or past the create's commit: the position PostgreSQL reports is past the one before the request
        assertEquals("t", SecondClient.queryString("SELECT '" + position + "'::pg_lsn > '" + before + "'::pg_lsn"));

        long id = createCustomer(uniqueEmail(), "5");
        given().get("/customers/" + id).then().statusCode(200).header(WrittenPosition.RESPONSE_HEADER, nullValue());
        given().get("/customers?page=0").then().statusCode(200).header(WrittenPosition.RESPONSE_HEADER, nullValue());
        long note = given().contentType(ContentType.JSON).body("{\"body\":\"called back\"}").post("/customers/" + id + "/notes")
                .then().statusCode(201).header(WrittenPosition.RESPONSE_HEADER, matchesPattern(LSN))
                .extract().jsonPath().getLong("id");
        given().delete("/customers/" + id + "/notes/" + note)
                .then().statusCode(204).header(WrittenPosition.RESPONSE_HEADER, matchesPattern(LSN));
        given().contentType(ContentType.JSON).body("{\"amount\":2}")
                .post("/customers/" + id + "/credit-adjustments")
                .then().statusCode(200).header(WrittenPosition.RESPONSE_HEADER, matchesPattern(LSN));
        long empty = createCustomer(uniqueEmail());
        given().delete("/customers/" + empty).then().statusCode(204).header(WrittenPosition.RESPONSE_HEADER, matchesPattern(LSN));
        // a failed write wrote nothing: no position to wait for
        given().delete("/customers/" + empty).then().statusCode(404).header(WrittenPosition.RESPONSE_HEADER, nullValue());
    }

    @Test
    void everyWriteMethodOfTheApiIsMarked() throws Exception {
        List<String> unmarked = new ArrayList<>();
        int writes = 0;
        Path classes = Path.of("target", "classes");
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path file : files.filter(f -> f.toString().endsWith("Resource.class")).toList()) {
                String name = classes.relativize(file).toString().replace('/', '.').replaceAll("\\.class$", "");
                Class<?> type = Class.forName(name, false, getClass().getClassLoader());
                if (!type.isAnnotationPresent(jakarta.ws.rs.Path.class) || name.startsWith("dev.bastion.admin.")) {
                    continue; // the admin API's POST (diagnostics) writes nothing
                }
                for (Method method : type.getDeclaredMethods()) {
                    if (Stream.of(POST.class, PUT.class, PATCH.class, DELETE.class).anyMatch(method::isAnnotationPresent)) {
                        writes++;
                        if (!method.isAnnotationPresent(WriteEndpoint.class)) {
                            unmarked.add(type.getSimpleName() + "." + method.getName());
                        }
                    }
                }
            }
        }
        assertTrue(writes >= 8, "found only " + writes + " write methods: the scan missed the resources");
        assertEquals(List.of(), unmarked, "write methods without @WriteEndpoint");
    }
}
