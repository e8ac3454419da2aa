package io.shuttle.operator.reconciler;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;
import java.util.Optional;

/** The operator's own settings ({@code shuttle.operator.*} in application.properties or env). */
@ConfigMapping(prefix = "shuttle.operator")
public interface OperatorConfig {

    /**
     * Write children with server-side apply (field manager {@code shuttle-operator}). Off only
     * for the Fabric8 mock server, which does not implement it; plain updates would fight
     * server-set immutable fields on a real cluster.
     */
    @WithDefault("true")
    boolean serverSideApply();

    /** How often a deployment that is not Ready is looked at again even without events. */
    @WithDefault("15s")
    Duration notReadyRecheck();

    /** An image with {@code huggingface-cli}, for hf:// models. Without it hf:// sources are refused. */
    Optional<String> hfDownloaderImage();

    /**
     * When the experts' pod template changes, delete every expert pod not on the new revision at
     * once (the StatefulSet re-creates them in parallel) instead of the one-by-one roll: decoding
     * pauses for the slowest expert pod's start rather than for all of them in a row
     * ({@link ExpertPoolRestart}). Attention pods always roll one at a time.
     */
    @WithDefault("true")
    boolean expertsRestartTogether();
}
