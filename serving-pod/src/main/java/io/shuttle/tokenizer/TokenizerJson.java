package io.shuttle.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The facts Shuttle reads from a {@code tokenizer.json} itself rather than through the native
 * library: which token string has which id, and how many ids there are. Parsing it here first
 * also turns a malformed file into an error that names it.
 *
 * @param file          the file read
 * @param ids           token string to id, over the model vocabulary and the added tokens
 * @param specialTokens the contents of the added tokens marked {@code special}
 * @param vocabSize     one more than the largest id
 */
record TokenizerJson(Path file, Map<String, Integer> ids, Set<String> specialTokens, int vocabSize) {

    static final String FILE_NAME = "tokenizer.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    static TokenizerJson read(Path modelDir) {
        Path file = modelDir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            throw new TokenizerException("no " + FILE_NAME + " in " + modelDir.toAbsolutePath()
                    + ": a model directory needs the Hugging Face tokenizer file (shuttle model init writes one)");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new TokenizerException(file + " is not valid JSON (" + e.getMessage() + ")", e);
        }
        if (root == null || !root.isObject() || !root.path("model").isObject()) {
            throw new TokenizerException(file + " is not a Hugging Face tokenizer file: it has no \"model\" object");
        }
        Map<String, Integer> ids = new HashMap<>();
        readModelVocab(root.get("model"), ids, file);
        Set<String> special = new HashSet<>();
        for (JsonNode t : root.path("added_tokens")) {
            if (!t.path("content").isTextual() || !t.path("id").canConvertToInt()) {
                throw new TokenizerException(file + ": every entry of \"added_tokens\" needs \"id\" and \"content\", got " + t);
            }
            ids.put(t.get("content").textValue(), t.get("id").intValue());
            if (t.path("special").asBoolean(false)) {
                special.add(t.get("content").textValue());
            }
        }
        if (ids.isEmpty()) {
            throw new TokenizerException(file + " has an empty vocabulary");
        }
        int max = ids.values().stream().mapToInt(Integer::intValue).max().orElseThrow();
        return new TokenizerJson(file, Map.copyOf(ids), Set.copyOf(special), max + 1);
    }

    /** BPE and WordPiece keep {token: id}; Unigram keeps [[piece, score], ...] with the position as id. */
    private static void readModelVocab(JsonNode model, Map<String, Integer> ids, Path file) {
        JsonNode vocab = model.get("vocab");
        if (vocab == null || vocab.isNull()) {
            return;
        }
        if (vocab.isObject()) {
            for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                if (!e.getValue().canConvertToInt()) {
                    throw new TokenizerException(file + ": model.vocab[\"" + e.getKey() + "\"] is not an int id");
                }
                ids.put(e.getKey(), e.getValue().intValue());
            }
        } else if (vocab.isArray()) {
            for (int i = 0; i < vocab.size(); i++) {
                ids.put(vocab.get(i).path(0).asText(), i);
            }
        } else {
            throw new TokenizerException(file + ": model.vocab must be an object or a list");
        }
    }

    /** The id of a token string, if the vocabulary or the added tokens hold it. */
    OptionalInt id(String token) {
        Integer id = ids.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /**
     * The id of a special token named by tokenizer_config.json, or, when the config does not name
     * one, of {@code conventional} if that is a special added token; -1 when neither applies.
     */
    int specialId(Optional<String> configured, String field, String conventional) {
        if (configured.isPresent()) {
            return id(configured.get()).orElseThrow(() -> new TokenizerException(TokenizerConfig.FILE_NAME + " names "
                    + field + " \"" + configured.get() + "\", but " + file + " has no such token"));
        }
        return specialTokens.contains(conventional) ? ids.get(conventional) : -1;
    }
}
