package dev.bastion.api;

import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.inject.Singleton;
import jakarta.validation.ParameterNameProvider;

/**
 * The parameter names Hibernate Validator puts in a violation's path ({@code create.idempotencyKey}),
 * which ProblemMappers turns into the field a caller sees. The validator asks for them on every
 * validated call, violation or not, and its default provider reads them by reflection each time
 * (a copied Parameter array, a new list): the same names (the reflective ones, compiled with
 * -parameters), read once per method. Quarkus uses a ParameterNameProvider bean when there is one.
 */
@Singleton // no client proxy in front of a call the validator makes on every validated request
public class CachedParameterNames implements ParameterNameProvider {

    private final Map<Executable, List<String>> names = new ConcurrentHashMap<>();

    @Override
    public List<String> getParameterNames(Constructor<?> constructor) {
        return namesOf(constructor);
    }

    @Override
    public List<String> getParameterNames(Method method) {
        return namesOf(method);
    }

    private List<String> namesOf(Executable executable) {
        List<String> known = names.get(executable);
        return known != null ? known : names.computeIfAbsent(executable,
                e -> Arrays.stream(e.getParameters()).map(Parameter::getName).toList());
    }
}
