package io.shuttle.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Looks into another JVM on this machine through {@code jcmd} (from the JDK running the tests)
 * and {@code /proc}: resident memory, and the Java heap's committed and used bytes, optionally
 * after a full GC so that "used" is the live set.
 */
final class JvmProbe {
    /** A heap line of {@code GC.heap_info}: "PSYoungGen total 395264K, used 48840K" (G1: "garbage-first heap total ..."). */
    private static final Pattern HEAP_LINE = Pattern.compile("total (\\d+)K, used (\\d+)K");
    private static final Pattern MAX_HEAP = Pattern.compile("-XX:MaxHeapSize=(\\d+)");
    private static final Pattern ADDRESS = Pattern.compile("0x([0-9a-f]+)");
    private static final Pattern MAPPING = Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) ");

    /** Committed and used Java heap, in bytes. */
    record Heap(long committed, long used) {
    }

    private final long pid;
    /** The heap's reserved address range [low, high), read once. */
    private long heapLow = -1;
    private long heapHigh = -1;

    JvmProbe(long pid) {
        this.pid = pid;
    }

    /** VmRSS from /proc/PID/status, in bytes. */
    long rss() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024; // kB
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/" + pid + "/status");
    }

    /** The heap now; after a full GC ({@code GC.run}) when {@code afterFullGc}, so "used" is what is still reachable. */
    Heap heap(boolean afterFullGc) throws IOException, InterruptedException {
        if (afterFullGc) {
            jcmd("GC.run");
        }
        String info = jcmd("GC.heap_info");
        long committed = 0;
        long used = 0;
        int lines = 0;
        long low = Long.MAX_VALUE;
        long high = Long.MIN_VALUE;
        for (String line : info.split("\n")) {
            Matcher m = HEAP_LINE.matcher(line);
            if (m.find()) {
                committed += Long.parseLong(m.group(1)) * 1024;
                used += Long.parseLong(m.group(2)) * 1024;
                lines++;
                for (Matcher a = ADDRESS.matcher(line); a.find(); ) {
                    long address = Long.parseUnsignedLong(a.group(1), 16);
                    low = Math.min(low, address);
                    high = Math.max(high, address);
                }
            }
        }
        if (lines == 0 || low >= high) {
            throw new IllegalStateException("cannot read the heap of process " + pid + " from GC.heap_info:\n" + info);
        }
        heapLow = low;
        heapHigh = high;
        return new Heap(committed, used);
    }

    /**
     * Resident bytes outside the Java heap's reserved range (from /proc/PID/smaps): metaspace,
     * code, thread stacks, direct and native buffers, mapped files. Needs one {@link #heap} call first.
     */
    long nonHeapRss() throws IOException {
        if (heapLow < 0) {
            throw new IllegalStateException("call heap() first: the heap's address range is read from GC.heap_info");
        }
        long total = 0;
        boolean inHeap = false;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps"))) {
            Matcher m = MAPPING.matcher(line);
            if (m.find()) {
                long start = Long.parseUnsignedLong(m.group(1), 16);
                long end = Long.parseUnsignedLong(m.group(2), 16);
                inHeap = start < heapHigh && end > heapLow;
            } else if (!inHeap && line.startsWith("Rss:")) {
                total += Long.parseLong(line.substring(4).trim().split("\\s+")[0]) * 1024; // kB
            }
        }
        return total;
    }

    /** -XX:MaxHeapSize of the process, in bytes. */
    long maxHeap() throws IOException, InterruptedException {
        String flags = jcmd("VM.flags");
        Matcher m = MAX_HEAP.matcher(flags);
        if (!m.find()) {
            throw new IllegalStateException("no MaxHeapSize in VM.flags of process " + pid + ":\n" + flags);
        }
        return Long.parseLong(m.group(1));
    }

    private String jcmd(String command) throws IOException, InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        if (!Files.isExecutable(jcmd)) {
            throw new IllegalStateException(jcmd + " is missing: the tests need a full JDK (with jcmd), not a JRE");
        }
        Path out = Files.createTempFile("jcmd-", ".txt");
        try {
            // Output to a file, so a jcmd that hangs cannot block this thread beyond the wait below.
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("jcmd " + pid + " " + command + " did not finish within 60 s");
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IllegalStateException("jcmd " + pid + " " + command + " failed (exit " + p.exitValue() + "):\n" + text);
            }
            return text;
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
