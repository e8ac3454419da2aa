package io.shuttle.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.shuttle.tokenizer.ChatTemplate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A completions or chat-completions request, parsed and checked field by field so every mistake
 * is a 400 naming the field (OpenAI's {@code param}), never a 500. Unknown fields are refused, as
 * OpenAI does, so a typo ({@code max_token}) is not silently ignored.
 *
 * @param chat          chat completions (else text completions)
 * @param model         requested model name, or null
 * @param prompt        the prompt text (completions; null when given as token ids)
 * @param promptIds     the prompt as token ids (completions), or null
 * @param messages      the conversation (chat), or null
 * @param maxTokens     tokens to generate at most, if given
 * @param temperature   0 = greedy
 * @param topP          nucleus mass
 * @param topK          0 = off
 * @param seed          sampling seed, if given
 * @param stop          stop strings (up to 4)
 * @param stream        answer with server-sent events
 * @param includeUsage  streaming: a last chunk with usage
 * @param logprobs      how many top alternatives to report per token, or -1 for no logprobs
 * @param ignoreEos     keep generating after end-of-sequence (vLLM's extension)
 */
public record OpenAiRequest(boolean chat, String model, String prompt, int[] promptIds, List<ChatTemplate.Message> messages,
                            OptionalInt maxTokens, float temperature, float topP, int topK, Long seed, List<String> stop,
                            boolean stream, boolean includeUsage, int logprobs, boolean ignoreEos) {

    /** Largest accepted body; bigger ones are refused before parsing. */
    public static final int MAX_BODY_BYTES = 4 * 1024 * 1024;
    static final int MAX_TOP_LOGPROBS = 5;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(64).maxNumberLength(100).maxStringLength(MAX_BODY_BYTES).build());
    }

    private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "top_k", "seed",
            "stop", "stream", "stream_options", "n", "logprobs", "user", "presence_penalty", "frequency_penalty",
            "ignore_eos", "best_of", "logit_bias");
    private static final Set<String> COMPLETION_ONLY = Set.of("prompt", "echo", "suffix");
    private static final Set<String> CHAT_ONLY = Set.of("messages", "top_logprobs", "max_completion_tokens",
            "response_format", "tools", "tool_choice", "parallel_tool_calls");

    /** Parses a text-completions body. */
    public static OpenAiRequest completion(byte[] body) {
        return parse(body, false);
    }

    /** Parses a chat-completions body. */
    public static OpenAiRequest chatCompletion(byte[] body) {
        return parse(body, true);
    }

    private static OpenAiRequest parse(byte[] body, boolean chat) {
        JsonNode root = readJson(body);
        if (!root.isObject()) {
            throw ApiException.invalid(null, "the body must be a JSON object");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!COMMON.contains(f) && !(chat ? CHAT_ONLY : COMPLETION_ONLY).contains(f)) {
                throw ApiException.invalid(f, "unrecognized request argument: " + f);
            }
        }
        Fields in = new Fields(root);
        String model = in.string("model");
        int n = in.integer("n", 1, 1, Integer.MAX_VALUE);
        if (n != 1) {
            throw ApiException.invalid("n", "only n = 1 is supported; send several requests for several choices");
        }
        int bestOf = in.integer("best_of", 1, 1, Integer.MAX_VALUE);
        if (bestOf != 1) {
            throw ApiException.invalid("best_of", "only best_of = 1 is supported");
        }
        in.zeroOnly("presence_penalty");
        in.zeroOnly("frequency_penalty");
        if (root.has("logit_bias") && !root.get("logit_bias").isNull()
                && !(root.get("logit_bias").isObject() && root.get("logit_bias").isEmpty())) {
            throw ApiException.invalid("logit_bias", "logit_bias is not supported");
        }
        in.string("user");
        float temperature = (float) in.number("temperature", 1.0, 0, 2);
        float topP = (float) in.number("top_p", 1.0, Double.MIN_VALUE, 1);
        int topK = in.integer("top_k", 0, -1, Integer.MAX_VALUE);
        Long seed = root.hasNonNull("seed") ? in.longValue("seed") : null;
        boolean stream = in.bool("stream", false);
        boolean includeUsage = false;
        JsonNode so = root.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) {
                throw ApiException.invalid("stream_options", "stream_options must be an object");
            }
            if (!stream) {
                throw ApiException.invalid("stream_options", "stream_options is only allowed with stream: true");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = so.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getKey().equals("include_usage") && !e.getKey().equals("continuous_usage_stats")) {
                    throw ApiException.invalid("stream_options." + e.getKey(), "unrecognized stream option");
                }
            }
            includeUsage = new Fields(so).bool("include_usage", false);
        }
        boolean ignoreEos = in.bool("ignore_eos", false);
        List<String> stop = stops(root.get("stop"));
        OptionalInt maxTokens = root.hasNonNull("max_tokens")
                ? OptionalInt.of(in.integer("max_tokens", 16, 1, Integer.MAX_VALUE)) : OptionalInt.empty();
        int logprobs;
        if (chat) {
            if (root.hasNonNull("max_completion_tokens")) {
                maxTokens = OptionalInt.of(in.integer("max_completion_tokens", 16, 1, Integer.MAX_VALUE));
            }
            boolean want = in.bool("logprobs", false);
            int top = in.integer("top_logprobs", 0, 0, 20);
            if (top > 0 && !want) {
                throw ApiException.invalid("top_logprobs", "top_logprobs needs logprobs: true");
            }
            logprobs = want ? Math.min(top, MAX_TOP_LOGPROBS) : -1;
            JsonNode rf = root.get("response_format");
            if (rf != null && !rf.isNull() && !"text".equals(rf.path("type").asText())) {
                throw ApiException.invalid("response_format", "only response_format {\"type\": \"text\"} is supported");
            }
            if (root.hasNonNull("tools") && !(root.get("tools").isArray() && root.get("tools").isEmpty())) {
                throw ApiException.invalid("tools", "tool calling is not supported");
            }
            return new OpenAiRequest(true, model, null, null, messages(root.get("messages")), maxTokens, temperature,
                    topP, topK, seed, stop, stream, includeUsage, logprobs, ignoreEos);
        }
        logprobs = root.hasNonNull("logprobs") ? in.integer("logprobs", 0, 0, MAX_TOP_LOGPROBS) : -1;
        if (in.bool("echo", false)) {
            throw ApiException.invalid("echo", "echo is not supported");
        }
        if (root.hasNonNull("suffix")) {
            throw ApiException.invalid("suffix", "suffix is not supported");
        }
        if (maxTokens.isEmpty()) {
            maxTokens = OptionalInt.of(16); // OpenAI's default for text completions
        }
        JsonNode p = root.get("prompt");
        if (p == null || p.isNull()) {
            throw ApiException.invalid("prompt", "prompt is required: a string or an array of token ids");
        }
        if (p.isArray() && p.size() == 1 && (p.get(0).isTextual() || p.get(0).isArray())) {
            p = p.get(0); // a batch of one
        }
        if (p.isTextual()) {
            return new OpenAiRequest(false, model, p.asText(), null, null, maxTokens, temperature, topP, topK, seed, stop,
                    stream, includeUsage, logprobs, ignoreEos);
        }
        if (p.isArray() && !p.isEmpty() && p.get(0).isNumber()) {
            int[] ids = new int[p.size()];
            for (int i = 0; i < ids.length; i++) {
                JsonNode v = p.get(i);
                if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
                    throw ApiException.invalid("prompt", "prompt[" + i + "] is not a token id (a non-negative integer)");
                }
                ids[i] = v.asInt();
            }
            return new OpenAiRequest(false, model, null, ids, null, maxTokens, temperature, topP, topK, seed, stop,
                    stream, includeUsage, logprobs, ignoreEos);
        }
        if (p.isArray() && p.size() > 1) {
            throw ApiException.invalid("prompt", "give one prompt per request (batches of prompts are not supported)");
        }
        throw ApiException.invalid("prompt", "prompt must be a non-empty string or a non-empty array of token ids");
    }

    private static JsonNode readJson(byte[] body) {
        if (body == null || body.length == 0) {
            throw ApiException.invalid(null, "the request body is empty; send a JSON object");
        }
        if (body.length > MAX_BODY_BYTES) {
            throw new ApiException(413, "invalid_request_error", "the request body is larger than "
                    + MAX_BODY_BYTES + " bytes", null, null, null);
        }
        try {
            // Jackson would quietly replace invalid UTF-8; refuse it instead.
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body));
        } catch (CharacterCodingException e) {
            throw ApiException.invalid(null, "the request body is not valid UTF-8");
        }
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null || n.isMissingNode()) {
                throw ApiException.invalid(null, "the request body is empty; send a JSON object");
            }
            return n;
        } catch (IOException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            throw ApiException.invalid(null, "the body is not valid JSON: " + msg);
        }
    }

    private static List<String> stops(JsonNode s) {
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray()) {
            if (s.size() > 4) {
                throw ApiException.invalid("stop", "at most 4 stop sequences are allowed");
            }
            for (JsonNode v : s) {
                if (!v.isTextual()) {
                    throw ApiException.invalid("stop", "stop must be a string or an array of strings");
                }
                out.add(v.asText());
            }
        } else {
            throw ApiException.invalid("stop", "stop must be a string or an array of strings");
        }
        for (String v : out) {
            if (v.isEmpty() || v.length() > 256) {
                throw ApiException.invalid("stop", "each stop sequence must have 1 to 256 characters");
            }
        }
        return List.copyOf(out);
    }

    private static List<ChatTemplate.Message> messages(JsonNode m) {
        if (m == null || !m.isArray() || m.isEmpty()) {
            throw ApiException.invalid("messages", "messages must be a non-empty array of {role, content} objects");
        }
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode msg = m.get(i);
            String param = "messages[" + i + "]";
            if (!msg.isObject()) {
                throw ApiException.invalid(param, param + " must be an object with role and content");
            }
            JsonNode role = msg.get("role");
            if (role == null || !role.isTextual() || !Set.of("system", "user", "assistant", "developer").contains(role.asText())) {
                throw ApiException.invalid(param + ".role", param + ".role must be system, user, assistant or developer");
            }
            out.add(new ChatTemplate.Message("developer".equals(role.asText()) ? "system" : role.asText(),
                    content(msg.get("content"), param + ".content")));
        }
        return List.copyOf(out);
    }

    /** A message's text: a string, or an array of {type: "text", text} parts. */
    private static String content(JsonNode c, String param) {
        if (c != null && c.isTextual()) {
            return c.asText();
        }
        if (c != null && c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiException.invalid(param, param + ": only text parts ({\"type\": \"text\", \"text\": ...}) are supported");
                }
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
        throw ApiException.invalid(param, param + " must be a string or an array of text parts");
    }

    /** Typed field access that names the field in every error. */
    private record Fields(JsonNode root) {
        String string(String f) {
            JsonNode v = root.get(f);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isTextual()) {
                throw ApiException.invalid(f, f + " must be a string");
            }
            return v.asText();
        }

        boolean bool(String f, boolean dflt) {
            JsonNode v = root.get(f);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (!v.isBoolean()) {
                throw ApiException.invalid(f, f + " must be true or false");
            }
            return v.asBoolean();
        }

        int integer(String f, int dflt, int min, int max) {
            JsonNode v = root.get(f);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (!v.isIntegralNumber() && !(v.isNumber() && v.asDouble() == Math.rint(v.asDouble()))) {
                throw ApiException.invalid(f, f + " must be an integer");
            }
            if (!v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
                throw ApiException.invalid(f, f + " must be between " + min + " and " + max + ", got " + v.asText());
            }
            return (int) v.asLong();
        }

        long longValue(String f) {
            JsonNode v = root.get(f);
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw ApiException.invalid(f, f + " must be an integer that fits in 64 bits");
            }
            return v.asLong();
        }

        double number(String f, double dflt, double min, double max) {
            JsonNode v = root.get(f);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
                throw ApiException.invalid(f, f + " must be a number");
            }
            double d = v.asDouble();
            if (d < min || d > max) {
                throw ApiException.invalid(f, f + " must be between " + (min == Double.MIN_VALUE ? "0 (exclusive)" : min)
                        + " and " + max + ", got " + v.asText());
            }
            return d;
        }

        void zeroOnly(String f) {
            if (number(f, 0, -2, 2) != 0) {
                throw ApiException.invalid(f, f + " is not supported; leave it at 0");
            }
        }
    }
}
