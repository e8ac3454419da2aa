package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shuttle.reference.ReferenceMixtral;
import io.shuttle.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code shuttle generate} end to end in-process: model init → generate → JSON, checked against the reference. */
class GenerateCommandTest {

    @TempDir
    static Path tmp;
    static Path model;
    static final ObjectMapper JSON = new ObjectMapper();

    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        CommandLine cl = ShuttleCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @BeforeAll
    static void tinyModel() {
        model = tmp.resolve("tiny");
        Run init = run("model", "init", "--preset", "tiny", "--seed", "3", "--out", model.toString(), "--dtype", "f32");
        assertEquals(0, init.exit(), init.err());
    }

    @Test
    void jsonOutputForAMixedPromptsFileMatchesTheReferenceModel() throws Exception {
        Path prompts = tmp.resolve("prompts.json");
        Files.writeString(prompts, "[\"Hello world\", [1, 40, 41, 42, 43], \"Ünïcödé and  spaces\"]");
        Run r = run("generate", "--model", model.toString(), "--prompts-file", prompts.toString(),
                "--max-tokens", "6", "--temperature", "0", "--ignore-eos", "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode doc = JSON.readTree(r.out());
        assertEquals("shuttle", doc.get("engine").asText());
        JsonNode results = doc.get("results");
        assertEquals(3, results.size());

        ReferenceMixtral reference = ReferenceMixtral.load(model);
        try (Tokenizer tok = Tokenizer.load(model)) {
            assertArrayEquals(tok.encode("Hello world", true), ids(results.get(0).get("prompt_ids")));
            assertEquals(1, results.get(0).get("prompt_ids").get(0).asInt(), "text prompts start with BOS");
            assertArrayEquals(new int[] {1, 40, 41, 42, 43}, ids(results.get(1).get("prompt_ids")), "id prompts are used as given");
            for (JsonNode item : results) {
                int[] prompt = ids(item.get("prompt_ids"));
                int[] generated = ids(item.get("generated_ids"));
                assertArrayEquals(reference.greedy(prompt, 6).ids(), generated, "greedy ids vs the float64 reference");
                assertEquals(tok.decode(generated, true), item.get("text").asText());
                JsonNode top5 = item.get("last_logits_top5");
                assertEquals(5, top5.size());
                assertEquals(generated[0], top5.get(0).get(0).asInt(), "greedy picks the top logit");
                for (int i = 1; i < 5; i++) {
                    assertTrue(top5.get(i - 1).get(1).asDouble() >= top5.get(i).get(1).asDouble());
                }
            }
        }
    }

    @Test
    void dumpWritesFullLogitsForEveryStep() throws Exception {
        Path dump = tmp.resolve("dump.json");
        Run r = run("generate", "--model", model.toString(), "--prompt-ids", "1,5,6,7", "--max-tokens", "4",
                "--ignore-eos", "--dump", dump.toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode item = JSON.readTree(dump.toFile()).get("results").get(0);
        int vocab = JSON.readTree(model.resolve("config.json").toFile()).get("vocab_size").asInt();
        assertEquals(vocab, item.get("last_logits").size());
        assertEquals(4, item.get("step_logits").size());
        assertEquals(item.get("last_logits"), item.get("step_logits").get(0));
        assertTrue(r.out().length() > 0, "plain text output is printed without --json");
    }

    @Test
    void badInputGetsAClearError() throws Exception {
        Run missing = run("generate", "--model", tmp.resolve("nope").toString(), "--prompt", "hi");
        assertEquals(1, missing.exit());
        assertTrue(missing.err().contains("is not a folder"), missing.err());

        Path bad = tmp.resolve("bad.json");
        Files.writeString(bad, "[\"ok\", {\"x\": 1}]");
        Run badFile = run("generate", "--model", model.toString(), "--prompts-file", bad.toString());
        assertEquals(1, badFile.exit());
        assertTrue(badFile.err().contains("item 1"), badFile.err());

        Run both = run("generate", "--model", model.toString(), "--prompt", "a", "--prompt-ids", "1,2");
        assertEquals(2, both.exit(), "picocli usage error");

        Run outside = run("generate", "--model", model.toString(), "--prompt-ids", "1,999999");
        assertEquals(1, outside.exit());
        assertTrue(outside.err().contains("outside the vocabulary"), outside.err());

        Run device = run("generate", "--model", model.toString(), "--prompt", "hi", "--device", "tpu");
        assertEquals(1, device.exit());
        assertTrue(device.err().contains("use cpu, cuda or cuda:N"), device.err());
    }

    @Test
    void askingForCudaWithoutAGpuSaysSo() {
        org.junit.jupiter.api.Assumptions.assumeFalse(io.shuttle.kernels.cuda.CudaProbe.availability().available(),
                "this machine has a GPU");
        Run r = run("generate", "--model", model.toString(), "--prompt", "hi", "--device", "cuda");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("no CUDA driver/GPU is available") && r.err().contains("use --device cpu"), r.err());
    }

    private static int[] ids(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
