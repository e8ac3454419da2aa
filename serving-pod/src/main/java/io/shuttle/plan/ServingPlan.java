package io.shuttle.plan;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * The serving plan: the contract between the operator (or {@code shuttle local}) and the pods.
 * Every pod of a deployment mounts the same file and learns from it who its peers are, which
 * experts live where, and the pipeline's limits. Schema documented in {@code docs/PLAN.md};
 * read and checked by {@link PlanReader}.
 *
 * @param apiVersion  must be {@value #API_VERSION}
 * @param kind        must be {@value #KIND}
 * @param deployment  deployment name (also feeds the M2N deployment id)
 * @param attention   the attention pool
 * @param experts     the expert pool and placement
 * @param pipeline    micro-batching and batch limits
 */
public record ServingPlan(
        @JsonProperty("apiVersion") String apiVersion,
        @JsonProperty("kind") String kind,
        @JsonProperty("deployment") String deployment,
        @JsonProperty("attention") Pool attention,
        @JsonProperty("experts") ExpertPool experts,
        @JsonProperty("pipeline") Pipeline pipeline) {

    public static final String API_VERSION = "shuttle.io/v1alpha1";
    public static final String KIND = "ServingPlan";

    /**
     * A pool of pods of one role. Addresses are either listed (one per ordinal) or produced
     * from a pattern with {@code {ordinal}} (a StatefulSet's stable DNS names).
     *
     * @param replicas       pods in the pool
     * @param addresses      M2N address ({@code host:port}) of each ordinal, or null
     * @param addressPattern e.g. {@code demo-experts-{ordinal}.demo-experts.ns.svc:7200}, or null
     */
    public record Pool(
            @JsonProperty("replicas") Integer replicas,
            @JsonProperty("addresses") List<String> addresses,
            @JsonProperty("addressPattern") String addressPattern) {

        /** The M2N address of pod {@code ordinal} (the plan is validated first). */
        public String address(int ordinal) {
            return addresses != null ? addresses.get(ordinal)
                    : addressPattern.replace("{ordinal}", Integer.toString(ordinal));
        }
    }

    /**
     * The expert pool: its pods and which experts each pod holds. An expert may sit on several
     * pods (replicas); the attention side then splits that expert's tokens among them.
     *
     * @param replicas       expert pods
     * @param addresses      M2N address of each ordinal, or null
     * @param addressPattern address pattern with {@code {ordinal}}, or null
     * @param placement      for each expert pod (by ordinal), the expert ids it holds
     */
    public record ExpertPool(
            @JsonProperty("replicas") Integer replicas,
            @JsonProperty("addresses") List<String> addresses,
            @JsonProperty("addressPattern") String addressPattern,
            @JsonProperty("placement") List<List<Integer>> placement) {

        public Pool pool() {
            return new Pool(replicas, addresses, addressPattern);
        }
    }

    /**
     * @param microBatches       micro-batches per step (1 = no pipelining; ping-pong needs ≥ 2)
     * @param maxBatchTokens     token rows per step per attention pod
     * @param maxRunning         sequences running at once per attention pod
     * @param maxWaiting         queued requests per attention pod beyond the running ones
     * @param maxModelLen        longest sequence, prompt plus generated
     * @param kvBlocks           KV cache blocks per attention pod
     * @param kvBlockSize        tokens per KV block
     * @param roundTimeoutMillis how long a round waits for a missing peer before failing it
     */
    public record Pipeline(
            @JsonProperty("microBatches") Integer microBatches,
            @JsonProperty("maxBatchTokens") Integer maxBatchTokens,
            @JsonProperty("maxRunning") Integer maxRunning,
            @JsonProperty("maxWaiting") Integer maxWaiting,
            @JsonProperty("maxModelLen") Integer maxModelLen,
            @JsonProperty("kvBlocks") Integer kvBlocks,
            @JsonProperty("kvBlockSize") Integer kvBlockSize,
            @JsonProperty("roundTimeoutMillis") Integer roundTimeoutMillis) {
    }
}
