package io.shuttle.cli;

import io.shuttle.kernels.DType;
import io.shuttle.model.init.CheckpointGenerator;
import io.shuttle.model.init.Preset;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The pipeline benchmark's default model, balanced on this machine. The balance that matters is
 * per decode step: the attention pod's busy time (every layer's attention and dispatch, plus
 * lm_head, sampling and scheduling, which no micro-batching overlaps with expert work of the same
 * lane) against the expert pod's (every layer's expert FFN and combine). Counting multiply-adds
 * (the first default) got it wrong by 1.5-2x: CPUs run the expert GEMM and the attention side's
 * smaller, more varied kernels at different rates, and the two pods' compute threads share their
 * cores with their progress threads.
 *
 * <p>How: the benchmark first runs its own pods at m = 2 on the model with
 * {@link #START_INTERMEDIATE} (multiply-adds balanced), reads each pod's busy time per step and
 * the expert FFN's share of it, and scales {@code intermediate_size} so the FFN fills the
 * attention pod's busy time less the expert pod's other work. Its weights and multiply-adds are
 * linear in the intermediate size through zero, but its time is not always (see
 * {@link #refinedIntermediate}), so the benchmark measures the chosen size once more and takes a
 * second step from the two points. An in-process timing of both halves on one thread
 * was tried first: there the expert weights evict the attention weights from the shared caches,
 * and the attention side came out 20 % slower than in its own pod, so the choice overshot.
 */
final class PipelineBalance {
    /** Where the search starts: multiply-adds balanced (see {@link #model}). */
    static final int START_INTERMEDIATE = 256;
    private static final int ALIGN = 32;
    private static final int MIN_INTERMEDIATE = 64;
    private static final int MAX_INTERMEDIATE = 4096;

    private PipelineBalance() {
    }

    /**
     * Per decode step, from one pipeline measurement: the attention pod's busy time, the expert
     * pod's FFN time and the rest of its busy time (combine), all in microseconds.
     */
    record StepBusy(double attentionMicros, double expertFfnMicros, double expertOtherMicros) {
        StepBusy {
            if (!(attentionMicros > 0) || !(expertFfnMicros > 0) || expertOtherMicros < 0) {
                throw new IllegalArgumentException("no busy time measured: attention " + attentionMicros
                        + " µs, expert FFN " + expertFfnMicros + " µs, other " + expertOtherMicros + " µs per step");
            }
        }

        /** Each time's median over several windows. */
        static StepBusy median(java.util.List<StepBusy> windows) {
            return new StepBusy(median(windows, StepBusy::attentionMicros), median(windows, StepBusy::expertFfnMicros),
                    median(windows, StepBusy::expertOtherMicros));
        }

        private static double median(java.util.List<StepBusy> windows, java.util.function.ToDoubleFunction<StepBusy> f) {
            double[] v = windows.stream().mapToDouble(f).sorted().toArray();
            return v[v.length / 2];
        }
    }

    /** The intermediate size whose expert FFN makes both pods equally busy, given a measurement at {@code measuredAt}. */
    static int balancedIntermediate(int measuredAt, StepBusy busy) {
        double target = Math.max(0.1 * busy.attentionMicros(), busy.attentionMicros() - busy.expertOtherMicros());
        return clamp(measuredAt * target / busy.expertFfnMicros());
    }

    /** Busy times within this share of each other count as balanced: the measured size is kept. */
    static final double BALANCED_WITHIN = 0.05;

    /**
     * A second step after {@link #balancedIntermediate}: given the measurement at the start size
     * ({@code i0}, {@code b0}) and one at the chosen size ({@code i1}, {@code b1}), the size whose
     * FFN fills the attention pod's busy time as measured at {@code i1}; {@code i1} itself when
     * the two pods are already within {@link #BALANCED_WITHIN}. The FFN's time is not
     * proportional to the intermediate size on every machine (at m = 2, batch 64: 1,606 µs per
     * round at 448 but 1,135-1,174 µs at 512 on the Zen 4 VM; 11.8 ms per step at 256 and 11.4 ms
     * at 320 on the Zen 5 VM), so the line through the two measured points is used where it
     * rises, and a proportional step from {@code i1} otherwise. Either way the step is at most a
     * factor of two: a single cluster's noise on these VMs reaches 1.3x, and a wild step would
     * follow it.
     */
    static int refinedIntermediate(int i0, StepBusy b0, int i1, StepBusy b1) {
        double target = Math.max(0.1 * b1.attentionMicros(), b1.attentionMicros() - b1.expertOtherMicros());
        if (Math.abs(b1.expertFfnMicros() - target) <= BALANCED_WITHIN * target) {
            return i1;
        }
        double slope = i1 != i0 ? (b1.expertFfnMicros() - b0.expertFfnMicros()) / (i1 - i0) : 0;
        double intercept = b1.expertFfnMicros() - slope * i1;
        double next = slope > 0 && intercept >= 0 ? (target - intercept) / slope
                : i1 * target / b1.expertFfnMicros();
        return clamp(Math.max(i1 / 2.0, Math.min(2.0 * i1, next)));
    }

    /**
     * The benchmark model: the small preset (hidden 512, GQA 8/4 heads of 64, 8 experts top-2, 8
     * layers) with a vocabulary of 2,048 and the intermediate size given. At 256 the experts'
     * multiply-adds per token (top-2 × 3 × 512 × 256 = 786k per layer) equal attention's
     * projections (q and o 512×512, k and v 256×512). lm_head (2,048 × 512) has 17 % of the
     * multiply-adds of the attention projections (Mixtral-8x7B: 131 M against 1,342 M, 10 %), but
     * in time, next to the attention over the context, it is about 8 % of the attention pod's busy
     * time at batch 256 (4.9 of 62 ms per step on the Intel VM), as Mixtral's is at contexts of
     * about 1k tokens (131 M of 1,741 M multiply-adds per token); the small preset's own 8,192-word
     * lm_head would be 40 % of the projections. Generated once and cached.
     */
    static Path model(int intermediateSize, PrintWriter out) throws Exception {
        String name = intermediateSize == START_INTERMEDIATE ? "pipeline-bench-v2-seed1"
                : "pipeline-bench-v2-i" + intermediateSize + "-seed1";
        Path dir = ShuttlePaths.cacheDir().resolve("models").resolve(name);
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            out.println("generating the pipeline benchmark model into " + dir + " (small preset, intermediate_size "
                    + intermediateSize + ", vocab 2048)");
            out.flush();
            Preset p = Preset.small().toBuilder().name("pipeline-bench").intermediateSize(intermediateSize)
                    .vocabSize(2048).build();
            Path partial = dir.resolveSibling(dir.getFileName() + ".partial");
            if (Files.exists(partial)) {
                try (var files = Files.walk(partial)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                }
            }
            CheckpointGenerator.write(p.config(), 1, DType.BF16, partial);
            Files.move(partial, dir);
        }
        return dir;
    }

    private static int clamp(double intermediate) {
        long aligned = Math.round(intermediate / ALIGN) * ALIGN;
        return (int) Math.max(MIN_INTERMEDIATE, Math.min(MAX_INTERMEDIATE, aligned));
    }
}
