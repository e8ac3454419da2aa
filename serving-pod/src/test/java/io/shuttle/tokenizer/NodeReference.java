package io.shuttle.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The reference implementation: the official Hugging Face {@code tokenizers} library through its
 * Node binding, run as {@code node src/test/node/encode.js}.
 */
final class NodeReference {

    /** What a developer or CI must run once (from the repository root) before the parity tests. */
    static final String INSTALL_COMMAND = "cd serving-pod/src/test/node && npm ci";

    private static final Path NODE_PROJECT = Path.of("src", "test", "node");
    private static final long TIMEOUT_SECONDS = 120;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One encode/decode job for encode.js. */
    record Request(String tokenizer, List<String> texts, boolean addSpecialTokens, List<int[]> decode,
                   boolean skipSpecialTokens) {
    }

    /** encode.js's answer: ids per text, text per decoded sequence. */
    record Response(List<int[]> ids, List<String> decoded) {
    }

    private NodeReference() {
    }

    /**
     * Skips the calling test when the Node project is not installed, or fails it under CI
     * ({@code CI=true}), where a skipped parity test would hide a broken setup.
     */
    static void requireInstalled() {
        boolean installed = Files.isDirectory(NODE_PROJECT.resolve("node_modules").resolve("tokenizers"));
        String message = "the reference tokenizer (npm package tokenizers) is not installed in "
                + NODE_PROJECT.toAbsolutePath() + "; run: " + INSTALL_COMMAND;
        if (!installed && "true".equalsIgnoreCase(System.getenv("CI"))) {
            fail(message);
        }
        assumeTrue(installed, message);
    }

    /** Runs all requests in one node process. */
    static List<Response> run(List<Request> requests) {
        ProcessBuilder pb = new ProcessBuilder("node", "encode.js").directory(NODE_PROJECT.toFile());
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start node (is Node.js on the PATH?) in " + NODE_PROJECT.toAbsolutePath(), e);
        }
        try {
            CompletableFuture<byte[]> stdout = drain(process.getInputStream());
            CompletableFuture<byte[]> stderr = drain(process.getErrorStream());
            try (OutputStream in = process.getOutputStream()) {
                JSON.writeValue(in, requests);
            }
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                fail("node encode.js did not finish within " + TIMEOUT_SECONDS + " s");
            }
            String err = new String(stderr.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                fail("node encode.js exited with " + process.exitValue() + ": " + err);
            }
            return JSON.readValue(stdout.get(10, TimeUnit.SECONDS), new TypeReference<List<Response>>() { });
        } catch (IOException e) {
            throw new UncheckedIOException("talking to node encode.js failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for node encode.js", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not read the output of node encode.js", e);
        } finally {
            process.destroyForcibly();
        }
    }

    /** Reads a stream to its end on another thread, so a full pipe never blocks the child. */
    private static CompletableFuture<byte[]> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream; ByteArrayOutputStream out = new ByteArrayOutputStream()) {
                stream.transferTo(out);
                return out.toByteArray();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, task -> Thread.ofPlatform().daemon().name("node-output").start(task));
    }
}
