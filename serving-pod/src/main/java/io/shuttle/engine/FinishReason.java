package io.shuttle.engine;

/** Why a sequence stopped; {@link #openAiName} is the OpenAI {@code finish_reason}. */
public enum FinishReason {
    /** Generated the end-of-sequence token. */
    STOP("stop"),
    /** Reached max tokens or the model's maximum length. */
    LENGTH("length");

    private final String openAiName;

    FinishReason(String openAiName) {
        this.openAiName = openAiName;
    }

    public String openAiName() {
        return openAiName;
    }
}
