package io.shuttle.engine;

/**
 * Receives one request's output. Called on the engine thread: implementations hand the data
 * off (to a queue, a stream) and never block.
 */
public interface RequestListener {

    /** A new token was generated. */
    void onToken(int token);

    /** Generation ended normally; no further calls follow. */
    void onFinish(FinishReason reason);

    /** The request failed (bad input found late, an aborted request, a pipeline error); no further calls follow. */
    void onError(Exception error);

    /** Whether {@link #onLogits} should be called (copying a vocabulary-sized row costs time). */
    default boolean wantsLogits() {
        return false;
    }

    /** The full logits that chose the next token, before sampling. */
    default void onLogits(float[] logits) {
    }
}
