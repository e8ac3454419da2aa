package io.shuttle.engine;

/**
 * A generation request as the engine sees it: already tokenised.
 *
 * @param id       caller's id (unique among live requests), used for aborts and traces
 * @param prompt   prompt token ids
 * @param params   sampling and stopping
 * @param listener where output goes
 */
public record Request(String id, int[] prompt, SamplingParams params, RequestListener listener) {
    public Request {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("a request needs a non-empty id");
        }
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("request " + id + ": the prompt is empty; give at least one token");
        }
        prompt = prompt.clone();
    }
}
