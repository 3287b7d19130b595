package dev.bastion.admin;

import java.util.List;

import dev.bastion.database.DatabaseNode;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Which node the service writes to and which serve its reads (GET /admin/database/nodes).
 *
 * @param hostsDiscovered whether the service finds the writer itself (DB_HOSTS); when false the
 *                        address in the URL is trusted to point at the writer and the rest is empty
 * @param writer          host:port taking writes now, null while none does (a failover in progress)
 * @param readTarget      DB_READ_TARGET
 * @param maxStandbyLagSeconds DB_MAX_STANDBY_LAG: a standby further behind serves no reads
 * @param splitBrain      the hosts that all took writes at the last look, empty normally
 * @param writerChanges   how often new connections started going to another node since start
 * @param nodes           every host, as seen at the last look
 */
@RegisterForReflection // serialised to JSON inside a generic or untyped response
public record DatabaseNodesView(boolean hostsDiscovered, String writer, String readTarget, double maxStandbyLagSeconds,
                                List<String> splitBrain, long writerChanges, List<DatabaseNode> nodes) {
}
