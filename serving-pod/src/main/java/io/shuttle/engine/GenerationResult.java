package io.shuttle.engine;

import java.util.List;

/**
 * What one prompt produced.
 *
 * @param promptIds     the prompt as run
 * @param generatedIds  the new tokens
 * @param finishReason  why generation stopped
 * @param lastLogits    logits at the last prompt position (they chose the first new token)
 * @param stepLogits    when recorded: the logits that chose each generated token, in order
 *                      (so {@code stepLogits.get(0)} equals {@code lastLogits}); otherwise empty
 */
public record GenerationResult(int[] promptIds, int[] generatedIds, FinishReason finishReason,
                               float[] lastLogits, List<float[]> stepLogits) {
}
