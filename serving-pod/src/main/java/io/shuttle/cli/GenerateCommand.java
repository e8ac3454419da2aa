package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shuttle.engine.Engine;
import io.shuttle.engine.GenerationResult;
import io.shuttle.engine.SamplingParams;
import io.shuttle.serve.GenerationJson;
import io.shuttle.kernels.Backend;
import io.shuttle.model.Checkpoint;
import io.shuttle.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code shuttle generate}: runs prompts through the monolithic engine and prints the results. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text for one or more prompts with the monolithic (single-process) engine.")
final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    EngineCliOptions engine = new EngineCliOptions();

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptSource source;

    static final class PromptSource {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "A text prompt (BOS is added).")
        String prompt;

        @Option(names = "--prompt-ids", paramLabel = "IDS", split = ",", description = "Prompt token ids, used as given.")
        int[] promptIds;

        @Option(names = "--prompts-file", paramLabel = "FILE",
                description = "JSON array; each item a text prompt (BOS added) or an array of token ids. All run as one batch.")
        Path promptsFile;
    }

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "32", description = "Tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy, ties to the lowest id (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-p", defaultValue = "1", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--top-k", defaultValue = "0", description = "Sample from the k most likely tokens; 0 = off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed; prompt i uses seed + i (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--ignore-eos", description = "Keep generating after the end-of-sequence token.")
    boolean ignoreEos;

    @Option(names = "--json", description = "Print one JSON document instead of text.")
    boolean json;

    @Option(names = "--dump", paramLabel = "FILE",
            description = "Also write the JSON document with full last_logits and step_logits to FILE.")
    Path dump;

    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Override
    public Integer call() throws IOException {
        SamplingParams params = new SamplingParams(temperature, topP, topK, seed, maxTokens, ignoreEos);
        Path dir = engine.modelDir();
        try (Checkpoint ckpt = Checkpoint.open(dir);
             Tokenizer tokenizer = Tokenizer.load(dir);
             Backend backend = engine.backend()) {
            List<int[]> prompts = readPrompts(tokenizer);
            int longest = prompts.stream().mapToInt(p -> p.length).max().orElse(1);
            int batchTokens = Math.max(512, Math.min(4096, prompts.size() * longest));
            try (Engine eng = new Engine(ckpt, backend, engine.engineOptions(ckpt.config(), batchTokens, Math.max(prompts.size(), 1)))) {
                EngineCliOptions.warm(ckpt);
                List<GenerationResult> results = eng.generate(prompts, params, dump != null);
                print(results, tokenizer);
            }
        }
        return 0;
    }

    private List<int[]> readPrompts(Tokenizer tokenizer) throws IOException {
        if (source.prompt != null) {
            return List.of(tokenizer.encode(source.prompt, true));
        }
        if (source.promptIds != null) {
            return List.of(source.promptIds);
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(Files.readString(source.promptsFile));
        } catch (IOException e) {
            throw new IllegalArgumentException("--prompts-file " + source.promptsFile + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isArray() || root.isEmpty()) {
            throw new IllegalArgumentException("--prompts-file " + source.promptsFile
                    + " must hold a non-empty JSON array of strings or id arrays");
        }
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) {
            JsonNode item = root.get(i);
            if (item.isTextual()) {
                prompts.add(tokenizer.encode(item.asText(), true));
            } else if (item.isArray() && !item.isEmpty()) {
                int[] ids = new int[item.size()];
                for (int j = 0; j < ids.length; j++) {
                    if (!item.get(j).canConvertToInt()) {
                        throw new IllegalArgumentException("--prompts-file item " + i + ", element " + j
                                + " is not an integer token id: " + item.get(j));
                    }
                    ids[j] = item.get(j).asInt();
                }
                prompts.add(ids);
            } else {
                throw new IllegalArgumentException("--prompts-file item " + i
                        + " must be a string or a non-empty array of token ids, got: " + item);
            }
        }
        return prompts;
    }

    private void print(List<GenerationResult> results, Tokenizer tokenizer) throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (json || dump != null) {
            Map<String, Object> doc = GenerationJson.document(results, tokenizer, false);
            if (json) {
                out.println(MAPPER.writeValueAsString(doc));
            }
            if (dump != null) {
                MAPPER.writeValue(dump.toFile(), GenerationJson.document(results, tokenizer, true));
            }
        }
        if (!json) {
            for (GenerationResult r : results) {
                out.println(tokenizer.decode(r.generatedIds(), true));
            }
        }
        out.flush();
    }
}
