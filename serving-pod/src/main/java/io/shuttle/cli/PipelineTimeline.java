package io.shuttle.cli;

/**
 * A noise-free model of one attention and one expert pod running the ping-pong pipeline: what
 * the benchmark's measured round times would give if every round took exactly its average.
 * {@code bench pipeline} prints it next to what it measured, so the part of a bubble that the
 * pipeline's structure makes (the step boundary, the hops) can be told apart from the part a
 * noisy machine adds.
 *
 * <p>Two servers, each working through its own fixed order, as the pods do:
 * <ul>
 *   <li>the attention pod, per step: for each lane i, its boundary (lm_head, sampling, the next
 *       step's inputs; after lane i's last combine) and layer 0's attention; then for each layer
 *       ℓ ≥ 1 and lane i, the attention of (ℓ, i) once the combine of (ℓ − 1, i) is back
 *       ({@code PipelineRunner});</li>
 *   <li>the expert pod: rounds in (step, layer, lane) order, each once its dispatch has arrived
 *       ({@code ExpertServer}).</li>
 * </ul>
 * A dispatch and a combine each take one hop. The first steps are left out of the figures, so
 * they describe the steady state.
 */
final class PipelineTimeline {
    /** Steps simulated; the figures cover the steps after {@link #WARM_STEPS}. */
    private static final int STEPS = 40;
    private static final int WARM_STEPS = 8;

    private PipelineTimeline() {
    }

    /**
     * @param layers         decoder layers
     * @param lanes          micro-batches
     * @param attentionRound one lane's attention for one layer, µs
     * @param expertRound    the expert pod's work for one round (FFN and combine), µs
     * @param boundary       per lane and step: lm_head, sampling and the next step's inputs, µs
     * @param hop            one dispatch or combine, from sending to the other pod having it, µs
     */
    record Params(int layers, int lanes, double attentionRound, double expertRound, double boundary, double hop) {
        Params {
            if (layers < 1 || lanes < 1 || !(attentionRound >= 0) || !(expertRound >= 0) || !(boundary >= 0)
                    || !(hop >= 0)) {
                throw new IllegalArgumentException("pipeline model needs layers and lanes ≥ 1 and times ≥ 0, got "
                        + layers + " layers, " + lanes + " lanes, T_a " + attentionRound + ", T_e " + expertRound
                        + ", boundary " + boundary + ", hop " + hop);
            }
        }
    }

    /** Steady-state step time (µs) and the share of it each pod waits. */
    record Result(double stepMicros, double idleAttention, double idleExperts) {
    }

    static Result simulate(Params p) {
        int rounds = p.layers() * p.lanes();
        // combineAt[step % 2][round]: when round's combine is back at the attention pod.
        double[][] combineAt = new double[2][rounds];
        double attention = 0; // when the attention pod is next free
        double experts = 0;   // when the expert pod is next free
        double windowStart = 0;
        double attentionBusy = 0;
        double expertBusy = 0;
        for (int step = 0; step < STEPS; step++) {
            if (step == WARM_STEPS) {
                // From the end of one step to the end of another: in the steady state each step
                // of the window holds one step's work of both pods.
                windowStart = combineAt[(step + 1) % 2][rounds - 1];
                attentionBusy = 0;
                expertBusy = 0;
            }
            double[] previous = combineAt[(step + 1) % 2];
            double[] current = combineAt[step % 2];
            // Dispatch times of this step's rounds, in the order the expert pod serves them.
            double[] dispatched = new double[rounds];
            for (int lane = 0; lane < p.lanes(); lane++) {
                if (step > 0) {
                    attention = Math.max(attention, previous[(p.layers() - 1) * p.lanes() + lane]);
                }
                attention += p.boundary() + p.attentionRound();
                attentionBusy += p.boundary() + p.attentionRound();
                dispatched[lane] = attention;
            }
            // The expert pod serves layer 0 while the attention pod works through the layers;
            // rounds are computed in order, each needing only earlier ones, so one pass suffices
            // once each attention round's inputs are known.
            int served = 0;
            for (int layer = 1; layer <= p.layers(); layer++) {
                // Serve every round whose dispatch is known: all of layer − 1.
                for (; served < layer * p.lanes(); served++) {
                    experts = Math.max(experts, dispatched[served] + p.hop()) + p.expertRound();
                    expertBusy += p.expertRound();
                    current[served] = experts + p.hop();
                }
                if (layer == p.layers()) {
                    break;
                }
                for (int lane = 0; lane < p.lanes(); lane++) {
                    attention = Math.max(attention, current[(layer - 1) * p.lanes() + lane]) + p.attentionRound();
                    attentionBusy += p.attentionRound();
                    dispatched[layer * p.lanes() + lane] = attention;
                }
            }
        }
        double end = combineAt[(STEPS - 1) % 2][rounds - 1];
        double wall = end - windowStart;
        int measured = STEPS - WARM_STEPS;
        return new Result(wall / measured, Math.max(0, 1 - attentionBusy / wall), Math.max(0, 1 - expertBusy / wall));
    }
}
