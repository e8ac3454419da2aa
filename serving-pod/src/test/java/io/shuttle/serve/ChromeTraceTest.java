package io.shuttle.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Traces of several processes merge into one, also when a process was killed before it closed its file. */
class ChromeTraceTest {

    @Test
    void mergeKeepsEveryCompleteEventOfAPartThatWasNotClosed(@TempDir Path dir) throws Exception {
        Path closed = dir.resolve("expert.json");
        try (ChromeTrace t = new ChromeTrace(closed, "expert-0", 100)) {
            t.phase("expert compute", 1, 0, 0, System.nanoTime() - 1000, System.nanoTime());
            t.phase("combine", 1, 0, 0, System.nanoTime() - 500, System.nanoTime());
        }
        Path killed = dir.resolve("attention.json");
        ChromeTrace open = new ChromeTrace(killed, "attention-0", 100);
        open.attention(1, 0, 0, System.nanoTime() - 2000);
        open.attention(1, 1, 0, System.nanoTime() - 1000);
        open.close();
        // As if the process died while writing its third event: no closing bracket, a cut-off line.
        String text = Files.readString(killed);
        String cut = text.substring(0, text.lastIndexOf(']')).stripTrailing() + ",\n{\"name\":\"wait experts L1\",\"cat\":\"wa";
        Files.writeString(killed, cut);

        Path merged = dir.resolve("merged.json");
        ChromeTrace.merge(List.of(closed, killed, dir.resolve("missing.json")), merged);
        JsonNode all = new ObjectMapper().readTree(merged.toFile());
        // Each part: one process-name record plus its complete events.
        assertEquals(3 + 3, all.size(), all.toPrettyString());
        assertEquals(2, countCategory(all, "attention"));
        assertEquals(1, countCategory(all, "combine"));
    }

    /**
     * Two processes' files must agree on when one instant happened: the hand-offs between pools
     * are differences of their timestamps. Traces opened at different moments (their clocks
     * read apart) stamp the same nanoTime within a few µs of each other.
     */
    @Test
    void tracesOpenedAtDifferentMomentsAgreeOnAnInstant(@TempDir Path dir) throws Exception {
        double worst = 0;
        for (int i = 0; i < 20; i++) {
            long instant = System.nanoTime();
            Path a = dir.resolve("a" + i + ".json");
            Path b = dir.resolve("b" + i + ".json");
            try (ChromeTrace first = new ChromeTrace(a, "attention-0", 10)) {
                Thread.sleep(java.time.Duration.ofNanos(300_000 + 37_000L * i)); // the second opens a fraction of a millisecond later
                try (ChromeTrace second = new ChromeTrace(b, "expert-0", 10)) {
                    first.phase("combine", 1, 0, 0, instant, instant + 1000);
                    second.phase("combine", 1, 0, 0, instant, instant + 1000);
                }
            }
            double ta = new ObjectMapper().readTree(a.toFile()).get(1).get("ts").asDouble();
            double tb = new ObjectMapper().readTree(b.toFile()).get(1).get("ts").asDouble();
            worst = Math.max(worst, Math.abs(ta - tb));
        }
        // Whole milliseconds (the old clock reading) were off by up to 1,000 µs; allow for the
        // wall clock being stepped or slewed between the two readings.
        org.junit.jupiter.api.Assertions.assertTrue(worst < 50, "same instant " + worst + " µs apart");
    }

    private static int countCategory(JsonNode all, String cat) {
        int n = 0;
        for (JsonNode e : all) {
            if (cat.equals(e.path("cat").asText())) {
                n++;
            }
        }
        return n;
    }
}
