package io.shuttle.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What Shuttle uses from a Hugging Face {@code tokenizer_config.json}: the special token strings,
 * whether BOS is added, the context length and the chat template.
 *
 * @param bosToken       {@code bos_token} (a string, or an AddedToken object's {@code content})
 * @param eosToken       {@code eos_token}
 * @param unkToken       {@code unk_token}
 * @param addBosToken    {@code add_bos_token}, empty when the file does not say
 * @param modelMaxLength {@code model_max_length}, empty when absent or not an int (HF writes 1e30 for "unbounded")
 * @param chatTemplate   {@code chat_template}; of a list of named templates, the one named "default"
 */
public record TokenizerConfig(
        Optional<String> bosToken,
        Optional<String> eosToken,
        Optional<String> unkToken,
        Optional<Boolean> addBosToken,
        Optional<Integer> modelMaxLength,
        Optional<String> chatTemplate) {

    /** The file name inside a model directory. */
    public static final String FILE_NAME = "tokenizer_config.json";

    /** A model directory without tokenizer_config.json. */
    public static final TokenizerConfig ABSENT = new TokenizerConfig(
            Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads {@code modelDir/tokenizer_config.json}, or returns {@link #ABSENT} when there is none. */
    public static TokenizerConfig read(Path modelDir) {
        Path file = modelDir.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            return ABSENT;
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new TokenizerException(file + " is not valid JSON (" + e.getMessage()
                    + "); fix or delete the file", e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerException(file + " must contain a JSON object");
        }
        return new TokenizerConfig(
                tokenString(root, "bos_token", file),
                tokenString(root, "eos_token", file),
                tokenString(root, "unk_token", file),
                root.path("add_bos_token").isBoolean()
                        ? Optional.of(root.get("add_bos_token").booleanValue()) : Optional.empty(),
                root.path("model_max_length").canConvertToInt()
                        ? Optional.of(root.get("model_max_length").intValue()) : Optional.empty(),
                chatTemplate(root.get("chat_template"), file));
    }

    /** A special token is written either as a plain string or as an AddedToken object with "content". */
    private static Optional<String> tokenString(JsonNode root, String field, Path file) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            return Optional.empty();
        }
        if (n.isTextual()) {
            return Optional.of(n.textValue());
        }
        if (n.isObject() && n.path("content").isTextual()) {
            return Optional.of(n.get("content").textValue());
        }
        throw new TokenizerException(file + ": \"" + field + "\" must be a string or an object with \"content\", got " + n);
    }

    private static Optional<String> chatTemplate(JsonNode n, Path file) {
        if (n == null || n.isNull()) {
            return Optional.empty();
        }
        if (n.isTextual()) {
            return Optional.of(n.textValue());
        }
        if (n.isArray()) {
            for (JsonNode named : n) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return Optional.of(named.get("template").textValue());
                }
            }
            throw new TokenizerException(file + ": \"chat_template\" is a list without an entry named \"default\"");
        }
        throw new TokenizerException(file + ": \"chat_template\" must be a string or a list of {name, template}, got a "
                + n.getNodeType());
    }
}
