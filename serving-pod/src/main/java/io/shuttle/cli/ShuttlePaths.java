package io.shuttle.cli;

import java.nio.file.Path;

/** Where the CLI keeps generated models and other cached files: $SHUTTLE_CACHE, else ~/.cache/shuttle. */
final class ShuttlePaths {
    private ShuttlePaths() {
    }

    static Path cacheDir() {
        String env = System.getenv("SHUTTLE_CACHE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "shuttle");
    }
}
