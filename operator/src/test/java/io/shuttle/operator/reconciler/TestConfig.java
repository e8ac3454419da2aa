package io.shuttle.operator.reconciler;

import java.time.Duration;
import java.util.Optional;

/** Operator settings for the mock server: no server-side apply (the mock does not implement it). */
record TestConfig(boolean serverSideApply, Duration notReadyRecheck, Optional<String> hfDownloaderImage,
                  boolean expertsRestartTogether) implements OperatorConfig {

    static TestConfig mock() {
        return new TestConfig(false, Duration.ofSeconds(2), Optional.empty(), true);
    }

    TestConfig withExpertsRestartTogether(boolean on) {
        return new TestConfig(serverSideApply, notReadyRecheck, hfDownloaderImage, on);
    }
}
