package dev.bastion.api;

import dev.bastion.database.WrittenPosition;
import dev.bastion.idempotency.KeyedResponses;
import dev.bastion.idempotency.ValidIdempotencyKey;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.parameters.Parameter;

/**
 * What the API document says about parameters the code checks by hand rather than by Bean Validation
 * (a constraint on a read's parameter would run on every read): their format, as the check applies it.
 * Applied when the tests generate the document (quarkus-smallrye-openapi is a test dependency).
 */
public class HandCheckedParameters implements OASFilter {

    @Override
    public Parameter filterParameter(Parameter parameter) {
        if (WrittenPosition.REQUEST_HEADER.equals(parameter.getName()) && parameter.getIn() == Parameter.In.HEADER
                && parameter.getSchema() != null) {
            parameter.getSchema().setPattern("^" + WrittenPosition.FORMAT_REGEX + "$");
            parameter.setDescription("With reads on standbys: the " + WrittenPosition.RESPONSE_HEADER
                    + " of the caller's last write (a pg_lsn such as 0/16B3748). A standby serves the read only once it has "
                    + "replayed that far, else the writer does. Malformed: 400.");
        }
        if (KeyedResponses.IDEMPOTENCY_KEY.equals(parameter.getName()) && parameter.getIn() == Parameter.In.HEADER
                && parameter.getSchema() != null) { // the create checks it by hand (NewCustomerCheck), the other writes by annotation
            parameter.getSchema().setMinLength(1);
            parameter.getSchema().setMaxLength(ValidIdempotencyKey.MAX_LENGTH);
            parameter.getSchema().setPattern(ValidIdempotencyKey.FORMAT);
        }
        return parameter;
    }
}
