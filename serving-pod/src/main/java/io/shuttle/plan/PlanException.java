package io.shuttle.plan;

import java.util.List;

/** A plan file that cannot be used; the message lists every problem found, each with its JSON path. */
public final class PlanException extends RuntimeException {
    private final List<String> problems;

    public PlanException(String source, List<String> problems) {
        super(source + ": invalid serving plan:\n  - " + String.join("\n  - ", problems)
                + "\n(see docs/PLAN.md for the schema)");
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
