package dev.bastion.config;

import java.util.List;

/**
 * A feature's settings, checked where they are defined: each value's range and the relations
 * between its values. {@link SettingsCheck} runs every one at start-up.
 */
public interface CheckedSettings {

    /** Adds everything wrong with these settings to {@code problems}. */
    void check(SettingsProblems problems);

    /** Everything wrong with these settings alone, in order; empty when nothing is. */
    default List<String> problems() {
        SettingsProblems problems = new SettingsProblems();
        check(problems);
        return problems.list();
    }
}
