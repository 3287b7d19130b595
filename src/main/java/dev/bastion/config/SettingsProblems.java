package dev.bastion.config;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What is wrong with a set of settings, phrased for operators: the environment variable, its range
 * or the setting it contradicts. Every bound is inclusive, as the Bean Validation constraints these
 * replace were.
 */
public final class SettingsProblems {

    private final List<String> problems = new ArrayList<>();

    /** The problems found so far, in the order they were found. */
    public List<String> list() {
        return List.copyOf(problems);
    }

    public void add(String problem) {
        problems.add(problem);
    }

    public void between(String name, int value, int min, int max) {
        if (value < min || value > max) {
            problems.add(name + " must be from " + min + " to " + max);
        }
    }

    public void atLeast(String name, int value, int min) {
        if (value < min) {
            problems.add(name + " must be at least " + min);
        }
    }

    public void between(String name, double value, double min, double max) {
        if (!(value >= min && value <= max)) { // written so that NaN is refused too
            problems.add(name + " must be from " + plain(BigDecimal.valueOf(min)) + " to " + plain(BigDecimal.valueOf(max)));
        }
    }

    public void between(String name, Duration value, Duration min, Duration max) {
        if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            problems.add(name + " must be from " + seconds(min) + " to " + seconds(max) + " seconds");
        }
    }

    public void atLeast(String name, Duration value, Duration min) {
        if (value.compareTo(min) < 0) {
            problems.add(name + " must be at least " + seconds(min) + (min.equals(Duration.ofSeconds(1)) ? " second" : " seconds"));
        }
    }

    public void notBelow(String name, Duration value, String otherName, Duration other, String why) {
        if (value.compareTo(other) < 0) {
            problems.add(name + " (" + SecondsConverter.format(value) + ") must not be below " + otherName + " ("
                    + SecondsConverter.format(other) + ")" + why);
        }
    }

    public void notAbove(String name, Duration value, String otherName, Duration other, String why) {
        if (value.compareTo(other) > 0) {
            problems.add(name + " (" + SecondsConverter.format(value) + ") must not exceed " + otherName + " ("
                    + SecondsConverter.format(other) + ")" + why);
        }
    }

    /** A bound in seconds as operators write it: 0.001, 1, 3600. */
    private static String seconds(Duration duration) {
        return plain(BigDecimal.valueOf(duration.getSeconds()).add(BigDecimal.valueOf(duration.getNano(), 9)));
    }

    private static String plain(BigDecimal number) {
        return number.stripTrailingZeros().toPlainString();
    }
}
