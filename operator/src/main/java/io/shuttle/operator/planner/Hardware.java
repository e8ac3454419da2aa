package io.shuttle.operator.planner;

/**
 * The hardware part of a candidate, before {@code n_a} and {@code m} are chosen.
 *
 * @param attentionGpu  attention GPU type
 * @param tpA           GPUs per attention pod
 * @param expertGpu     expert GPU type
 * @param tpE           GPUs per expert pod
 * @param expertsPerPod experts each expert pod holds (the paper: 1)
 */
record Hardware(GpuType attentionGpu, int tpA, GpuType expertGpu, int tpE, int expertsPerPod) {

    String label() {
        return attentionGpu.name() + " tp" + tpA + " / " + expertGpu.name() + " tp" + tpE
                + (expertsPerPod == 1 ? "" : " (" + expertsPerPod + " experts per pod)");
    }
}
