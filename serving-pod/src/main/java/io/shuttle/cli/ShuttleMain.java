package io.shuttle.cli;

import io.quarkus.runtime.annotations.QuarkusMain;

/**
 * The entry point of {@code quarkus-run.jar}. Most sub-commands are plain command-line programs
 * and never start Quarkus; {@code serve} starts it for the pod's HTTP side.
 */
@QuarkusMain
public final class ShuttleMain {
    private ShuttleMain() {
    }

    public static void main(String... args) {
        ShuttleCli.main(args);
    }
}
