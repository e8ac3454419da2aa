package io.shuttle.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Collects one request's output into a {@link GenerationResult}, completed when the request
 * finishes (or failed with its error). Keeps the logits at the last prompt position, and with
 * {@code recordSteps} every step's logits.
 */
public final class CollectingListener implements RequestListener {
    private final int[] prompt;
    private final boolean recordSteps;
    private final List<Integer> tokens = new ArrayList<>();
    private final List<float[]> steps = new ArrayList<>();
    private final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
    private float[] lastLogits;

    public CollectingListener(int[] prompt, boolean recordSteps) {
        this.prompt = prompt.clone();
        this.recordSteps = recordSteps;
    }

    public CompletableFuture<GenerationResult> result() {
        return result;
    }

    @Override
    public void onToken(int token) {
        tokens.add(token);
    }

    @Override
    public void onFinish(FinishReason reason) {
        result.complete(new GenerationResult(prompt.clone(), tokens.stream().mapToInt(Integer::intValue).toArray(),
                reason, lastLogits, List.copyOf(steps)));
    }

    @Override
    public void onError(Exception error) {
        result.completeExceptionally(error);
    }

    /** Only the first logits (and, when recording, every step's): a vocabulary-sized copy per token otherwise. */
    @Override
    public boolean wantsLogits() {
        return recordSteps || lastLogits == null;
    }

    @Override
    public void onLogits(float[] logits) {
        if (lastLogits == null) {
            lastLogits = logits;
        }
        if (recordSteps) {
            steps.add(logits);
        }
    }
}
