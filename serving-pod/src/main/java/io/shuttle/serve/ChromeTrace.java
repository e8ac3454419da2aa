package io.shuttle.serve;

import io.shuttle.engine.StepTrace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Writes the pipeline's phases as a Chrome/Perfetto trace (the JSON array format: open it in
 * ui.perfetto.dev or chrome://tracing). One row per micro-batch, so bubbles show as gaps.
 * Bounded: after {@code maxEvents} events it stops recording and says so in the file.
 */
public final class ChromeTrace implements StepTrace, io.shuttle.pipeline.RoundTrace, AutoCloseable {
    private final Writer out;
    private final String process;
    private final long origin;
    /**
     * Timestamps are wall-clock microseconds, so the files of several processes line up when
     * merged. The clock is read to the microsecond: with whole milliseconds (as before) two
     * processes' files were offset by up to a millisecond, and hand-offs between them (T_c)
     * came out anywhere from −0.4 to +0.9 ms.
     */
    private final double originEpochMicros;
    private final int maxEvents;
    private final AtomicInteger events = new AtomicInteger();
    private final int pid = (int) ProcessHandle.current().pid();
    /** Readings of the two clocks taken when a trace opens; the tightest pair is kept. */
    private static final int CLOCK_PAIRINGS = 16;

    public ChromeTrace(Path file, String process, int maxEvents) {
        // Pair the two clocks from the tightest of several readings: a thread preempted between
        // nanoTime and the wall clock (common on a busy two-core machine) would otherwise skew
        // every timestamp of this file by the length of the preemption, tens of µs and more.
        long bestSpan = Long.MAX_VALUE;
        long bestOrigin = 0;
        java.time.Instant bestWall = null;
        for (int i = 0; i < CLOCK_PAIRINGS; i++) {
            long before = System.nanoTime();
            java.time.Instant wall = java.time.Instant.now();
            long after = System.nanoTime();
            if (after - before < bestSpan) {
                bestSpan = after - before;
                bestOrigin = before + (after - before) / 2;
                bestWall = wall;
            }
        }
        this.origin = bestOrigin;
        this.originEpochMicros = bestWall.getEpochSecond() * 1e6 + bestWall.getNano() / 1e3;
        this.process = process;
        this.maxEvents = maxEvents;
        try {
            out = Files.newBufferedWriter(file);
            out.write("[\n");
            out.write("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + pid + ",\"args\":{\"name\":\"" + process + "\"}}");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the trace file " + file, e);
        }
    }

    @Override
    public long now() {
        return System.nanoTime();
    }

    @Override
    public void attention(long step, int layer, int microBatch, long startNanos) {
        event("attention L" + layer, "attention", step, layer, microBatch, startNanos, System.nanoTime());
    }

    @Override
    public void wait(long step, int layer, int microBatch, long startNanos) {
        event("wait experts L" + layer, "wait", step, layer, microBatch, startNanos, System.nanoTime());
    }

    @Override
    public void dispatch(long step, int layer, int microBatch, long startNanos) {
        event("dispatch L" + layer, "dispatch", step, layer, microBatch, startNanos, System.nanoTime());
    }

    @Override
    public void logits(long step, int microBatch, long startNanos) {
        event("lm_head", "lm_head", step, -1, microBatch, startNanos, System.nanoTime());
    }

    @Override
    public void boundary(Boundary phase, long step, int microBatch, long startNanos) {
        event(phase.label(), phase.label(), step, -1, microBatch, startNanos, System.nanoTime());
    }

    @Override
    public void phase(String phase, long step, int layer, int microBatch, long startNanos, long endNanos) {
        event(phase + " L" + layer, phase, step, layer, microBatch, startNanos, endNanos);
    }

    private synchronized void event(String name, String cat, long step, int layer, int mb, long start, long end) {
        if (events.incrementAndGet() > maxEvents) {
            return;
        }
        try {
            out.write(String.format(",%n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
                            + "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"step\":%d,\"layer\":%d,\"micro_batch\":%d}}",
                    name, cat, pid, mb, originEpochMicros + (start - origin) / 1e3, (end - start) / 1e3, step, layer, mb));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            if (events.get() > maxEvents) {
                out.write(String.format(",%n{\"name\":\"trace truncated after %d events\",\"ph\":\"i\",\"pid\":%d,\"ts\":0}",
                        maxEvents, pid));
            }
            out.write("\n]\n");
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Merges the trace files of several processes into one (a JSON array of all their events).
     * A part whose process was killed before it closed the file (no closing bracket, a last event
     * cut off) still gives every complete event: each event is on a line of its own, so such a
     * part is read line by line and the broken tail is left out.
     */
    public static void merge(java.util.List<Path> parts, Path into) throws IOException {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        com.fasterxml.jackson.databind.node.ArrayNode all = json.createArrayNode();
        for (Path part : parts) {
            if (!Files.exists(part)) {
                continue;
            }
            try {
                json.readTree(part.toFile()).forEach(all::add);
            } catch (com.fasterxml.jackson.core.JsonProcessingException truncated) {
                int kept = 0;
                for (String line : Files.readAllLines(part)) {
                    String event = line.strip();
                    if (event.endsWith(",")) {
                        event = event.substring(0, event.length() - 1);
                    }
                    if (!event.startsWith("{")) {
                        continue;
                    }
                    try {
                        all.add(json.readTree(event));
                        kept++;
                    } catch (com.fasterxml.jackson.core.JsonProcessingException cut) {
                        // the event the process was writing when it stopped
                    }
                }
                System.err.println("trace part " + part + " was not closed (its process was stopped); kept its "
                        + kept + " complete events");
            }
        }
        json.writeValue(into.toFile(), all);
    }

    @Override
    public String toString() {
        return "ChromeTrace(" + process + ")";
    }
}
