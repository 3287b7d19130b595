package dev.bastion.api;

import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.parameters.Parameter;

/**
 * What the tests' generated API document adds to what quarkus-smallrye-openapi reads off the code (one
 * filter is configured, mp.openapi.filter): the format of the parameters checked by hand
 * ({@link HandCheckedParameters}), and the answers the resources build themselves ({@link DocumentedAnswers}).
 */
public class ApiDocumentFilter implements OASFilter {

    private final HandCheckedParameters parameters = new HandCheckedParameters();

    @Override
    public Parameter filterParameter(Parameter parameter) {
        return parameters.filterParameter(parameter);
    }

    @Override
    public void filterOpenAPI(OpenAPI openAPI) {
        DocumentedAnswers.addTo(openAPI);
    }
}
