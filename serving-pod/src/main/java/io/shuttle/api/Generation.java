package io.shuttle.api;

import io.shuttle.engine.EngineLoop;
import io.shuttle.engine.ExpertUnavailableException;
import io.shuttle.engine.FinishReason;
import io.shuttle.engine.RequestListener;
import io.shuttle.engine.SamplingParams;
import io.shuttle.engine.Scheduler;
import io.shuttle.metrics.GenerationTimer;
import io.shuttle.tokenizer.StreamingDecoder;
import io.shuttle.tokenizer.Tokenizer;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.MultiEmitter;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One request's generation, from the engine's token ids to text pieces for the client.
 *
 * <p>The engine thread only drops each event into this request's queue (bounded: a request
 * yields at most {@code maxTokens} tokens and one end), so a slow client never slows the batch.
 * A virtual thread per request drains it: it detokenizes incrementally, holds back text that
 * could still become a stop string, ends the request early when one matches, and emits
 * {@link Delta}s. When the client goes away the stream is cancelled and the request is aborted,
 * which frees its batch slot and KV blocks at the next step.
 */
final class Generation implements RequestListener {

    /** A piece of output: text, its tokens' log-probabilities (if asked), and the finish reason on the last one. */
    record Delta(String text, List<TokenLogprob> logprobs, String finishReason) {
    }

    /** A generated token's text and log-probability, with the most likely alternatives. */
    record TokenLogprob(String token, float logprob, List<TokenLogprob> top) {
    }

    private record TokenEvent(int id, float logprob, int[] topIds, float[] topLogprobs) {
    }

    private record EndEvent(FinishReason reason, Exception error) {
    }

    private final EngineLoop loop;
    private final Tokenizer tokenizer;
    private final int[] prompt;
    private final SamplingParams params;
    private final List<String> stops;
    private final int topLogprobs;
    private final GenerationTimer timer;
    private final Duration timeout;
    private final BlockingQueue<Object> events;
    private final int maxStopLength;
    private float[] logitsCopy; // engine thread only
    private float logSumExp;
    private volatile String requestId;
    private volatile int completionTokens;

    /**
     * @param topLogprobs -1: no log-probabilities; 0..5: the chosen token's plus that many alternatives
     */
    Generation(EngineLoop loop, Tokenizer tokenizer, int[] prompt, SamplingParams params, List<String> stops,
               int topLogprobs, GenerationTimer timer, Duration timeout) {
        this.loop = loop;
        this.tokenizer = tokenizer;
        this.prompt = prompt;
        this.params = params;
        this.stops = stops;
        this.topLogprobs = topLogprobs;
        this.timer = timer;
        this.timeout = timeout;
        this.events = new LinkedBlockingQueue<>(params.maxTokens() + 2);
        this.maxStopLength = stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /**
     * Queues the request in the engine and returns its output stream. A full queue is a 429;
     * a request the engine refuses (too long) is a 400: both before any byte is sent.
     */
    Multi<Delta> start() {
        try {
            requestId = loop.submit(prompt, params, this);
        } catch (Scheduler.QueueFullException e) {
            timer.end("rejected");
            throw ApiException.overloaded(e.getMessage());
        } catch (IllegalArgumentException e) {
            timer.end("rejected");
            throw ApiException.invalid(null, e.getMessage());
        } catch (IllegalStateException e) {
            timer.end("rejected");
            throw ApiException.unavailable(e.getMessage());
        }
        return Multi.createFrom().emitter(em -> {
            Thread worker = Thread.ofVirtual().name("generation-" + requestId).start(() -> drain(em));
            em.onTermination(() -> {
                worker.interrupt();
                loop.abort(requestId); // no-op when it already finished
            });
        });
    }

    int promptTokens() {
        return prompt.length;
    }

    int completionTokens() {
        return completionTokens;
    }

    // ---- engine thread -----------------------------------------------------------------------

    @Override
    public boolean wantsLogits() {
        return topLogprobs >= 0;
    }

    @Override
    public void onLogits(float[] logits) {
        if (logitsCopy == null || logitsCopy.length != logits.length) {
            logitsCopy = new float[logits.length];
        }
        System.arraycopy(logits, 0, logitsCopy, 0, logits.length);
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        logSumExp = (float) (max + Math.log(sum));
    }

    @Override
    public void onToken(int token) {
        timer.token();
        TokenEvent e;
        if (topLogprobs >= 0 && logitsCopy != null) {
            int[] ids = topIds(logitsCopy, topLogprobs);
            float[] lps = new float[ids.length];
            for (int i = 0; i < ids.length; i++) {
                lps[i] = logitsCopy[ids[i]] - logSumExp;
            }
            e = new TokenEvent(token, logitsCopy[token] - logSumExp, ids, lps);
        } else {
            e = new TokenEvent(token, 0, null, null);
        }
        events.offer(e); // capacity maxTokens + 2: cannot be full
    }

    @Override
    public void onFinish(FinishReason reason) {
        timer.end(reason.openAiName());
        events.offer(new EndEvent(reason, null));
    }

    @Override
    public void onError(Exception error) {
        timer.end("abort");
        events.offer(new EndEvent(null, error));
    }

    private static int[] topIds(float[] logits, int k) {
        int[] best = new int[k];
        Arrays.fill(best, -1);
        for (int i = 0; i < logits.length; i++) {
            for (int j = 0; j < k; j++) {
                if (best[j] < 0 || logits[i] > logits[best[j]]) {
                    System.arraycopy(best, j, best, j + 1, k - j - 1);
                    best[j] = i;
                    break;
                }
            }
        }
        return best;
    }

    // ---- the request's own virtual thread ------------------------------------------------------

    private void drain(MultiEmitter<? super Delta> em) {
        StreamingDecoder decoder = new StreamingDecoder(tokenizer,
                Arrays.copyOfRange(prompt, Math.max(0, prompt.length - 4), prompt.length), true);
        StringBuilder held = new StringBuilder(); // decoded text not yet sent (could start a stop string)
        List<TokenLogprob> heldLogprobs = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (!em.isCancelled()) {
                Object ev = events.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (ev == null) {
                    loop.abort(requestId);
                    em.fail(new ApiException(504, "timeout", "the generation did not finish within " + timeout,
                            null, "timeout", null));
                    return;
                }
                if (ev instanceof TokenEvent t) {
                    completionTokens++;
                    held.append(decoder.next(t.id()));
                    if (t.topIds() != null) {
                        heldLogprobs.add(logprob(t));
                    }
                    int stopAt = firstStop(held);
                    if (stopAt >= 0) {
                        loop.abort(requestId);
                        timer.end("stop");
                        em.emit(new Delta(held.substring(0, stopAt), List.copyOf(heldLogprobs), "stop"));
                        em.complete();
                        return;
                    }
                    int safe = held.length() - Math.max(0, maxStopLength - 1);
                    if (safe > 0) {
                        em.emit(new Delta(held.substring(0, safe), List.copyOf(heldLogprobs), null));
                        held.delete(0, safe);
                        heldLogprobs.clear();
                    }
                } else if (ev instanceof EndEvent end) {
                    if (end.error() != null) {
                        em.fail(failure(end.error()));
                        return;
                    }
                    held.append(decoder.flush());
                    int stopAt = firstStop(held);
                    String text = stopAt >= 0 ? held.substring(0, stopAt) : held.toString();
                    em.emit(new Delta(text, List.copyOf(heldLogprobs), stopAt >= 0 ? "stop" : end.reason().openAiName()));
                    em.complete();
                    return;
                }
            }
        } catch (InterruptedException e) {
            // cancelled: onTermination aborted the request
        } catch (RuntimeException e) {
            loop.abort(requestId);
            em.fail(e);
        }
    }

    private int firstStop(CharSequence text) {
        int best = -1;
        for (String s : stops) {
            int i = text.toString().indexOf(s);
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
            }
        }
        return best;
    }

    private TokenLogprob logprob(TokenEvent t) {
        List<TokenLogprob> top = new ArrayList<>(t.topIds().length);
        for (int i = 0; i < t.topIds().length; i++) {
            top.add(new TokenLogprob(tokenText(t.topIds()[i]), t.topLogprobs()[i], List.of()));
        }
        return new TokenLogprob(tokenText(t.id()), t.logprob(), top);
    }

    private String tokenText(int id) {
        return tokenizer.decode(new int[] {id}, false);
    }

    /** What a failed generation means to the client: experts unreachable is a 503. */
    static RuntimeException failure(Exception error) {
        if (error instanceof ApiException a) {
            return a;
        }
        Throwable c = error;
        while (c != null) {
            if (c instanceof ExpertUnavailableException) {
                return ApiException.unavailable("the expert pods could not be reached: " + c.getMessage());
            }
            c = c.getCause();
        }
        return ApiException.unavailable("the generation failed: " + error.getMessage());
    }
}
