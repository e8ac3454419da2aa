package io.shuttle.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The container images the build writes (Jib tarballs, docs/IMAGES.md): entrypoint, user, JVM
 * flags and files, checked against what the operator's pod template runs ({@code shuttle serve}
 * as user 10001) and what the JVM needs (the Vector API module, native access for UCX, DJL and
 * JCuda). The tarballs read here are built on an empty base (no registry is reachable in CI); the
 * {@code images} profile builds the same configuration on a JRE 25 base.
 */
class ImageConfigE2ETest {

    private static Path tar(String property) {
        Path p = Path.of(System.getProperty(property, "missing"));
        assertTrue(Files.isRegularFile(p), property + " = " + p + ": build with ./mvnw package first");
        return p;
    }

    @Test
    void servingPodImageRunsTheShuttleLauncherAsNonRoot() throws Exception {
        Image img = Image.read(tar("shuttle.image.pod.tar"));
        JsonNode c = img.config.get("config");
        assertEquals("/usr/local/bin/shuttle", c.get("Entrypoint").get(0).asText());
        assertEquals("serve", c.get("Cmd").get(0).asText(), "the default command serves a pod");
        assertEquals("10001:10001", c.get("User").asText(), "non-root, the uid the operator's pods run as");
        String jvm = env(c, "JDK_JAVA_OPTIONS");
        assertTrue(jvm.contains("--add-modules=jdk.incubator.vector"), jvm);
        assertTrue(jvm.contains("--enable-native-access=ALL-UNNAMED"), jvm);
        assertTrue(c.get("ExposedPorts").has("8080/tcp"));
        // The launcher is executable and starts the Quarkus app that is in the image.
        Entry launcher = img.entry("usr/local/bin/shuttle");
        assertTrue(launcher.mode().startsWith("-rwxr-xr-x"), "launcher mode " + launcher.mode());
        String script = img.read("usr/local/bin/shuttle");
        assertTrue(script.startsWith("#!/bin/sh") && script.contains("-jar /app/quarkus-run.jar"), script);
        img.entry("app/quarkus-run.jar");
        img.entry("app/app/shuttle-serving-pod.jar");
        assertTrue(img.entries.keySet().stream().anyMatch(n -> n.startsWith("app/lib/main/ai.djl.huggingface.tokenizers")),
                "the dependencies are in the image");
        assertTrue(img.entries.keySet().stream().noneMatch(n -> n.startsWith("opt/jib-default")),
                "Jib's own copy of the classes is filtered out (the app is in the image once)");
        assertTrue(img.layers >= 2, "dependencies and app in separate layers");
    }

    @Test
    void operatorImageRunsTheQuarkusAppAsNonRoot() throws Exception {
        Image img = Image.read(tar("shuttle.image.operator.tar"));
        JsonNode c = img.config.get("config");
        List<String> entry = new ArrayList<>();
        c.get("Entrypoint").forEach(e -> entry.add(e.asText()));
        assertEquals(List.of("java", "-jar", "/app/quarkus-run.jar"), entry);
        assertEquals("10001:10001", c.get("User").asText());
        assertTrue(env(c, "JDK_JAVA_OPTIONS").contains("MaxRAMPercentage"), "heap sized from the container limit");
        img.entry("app/quarkus-run.jar");
        assertTrue(img.entries.keySet().stream().anyMatch(n -> n.startsWith("app/lib/main/io.javaoperatorsdk")));
    }

    private static String env(JsonNode config, String name) {
        for (JsonNode e : config.get("Env")) {
            if (e.asText().startsWith(name + "=")) {
                return e.asText().substring(name.length() + 1);
            }
        }
        throw new AssertionError("no " + name + " in the image's environment: " + config.get("Env"));
    }

    private record Entry(String mode, String layer) {
    }

    /** A Jib (docker-save format) tarball: config.json, manifest.json and gzipped layers, read with tar(1). */
    private static final class Image {
        final Path tar;
        final JsonNode config;
        final Map<String, Entry> entries = new TreeMap<>();
        int layers;

        private Image(Path tar, JsonNode config) {
            this.tar = tar;
            this.config = config;
        }

        static Image read(Path tar) throws Exception {
            JsonNode manifest = Fixtures.JSON.readTree(run("tar", "-xOf", tar.toString(), "manifest.json"));
            Image img = new Image(tar, Fixtures.JSON.readTree(run("tar", "-xOf", tar.toString(),
                    manifest.get(0).get("Config").asText())));
            for (JsonNode layer : manifest.get(0).get("Layers")) {
                img.layers++;
                Path tmp = Files.createTempFile("layer", ".tar.gz");
                try {
                    Files.write(tmp, runBytes("tar", "-xOf", tar.toString(), layer.asText()));
                    for (String line : run("tar", "-tzvf", tmp.toString()).split("\n")) {
                        String[] f = line.trim().split("\\s+");
                        if (f.length >= 6) {
                            img.entries.put(f[f.length - 1].replaceAll("/$", ""), new Entry(f[0], layer.asText()));
                        }
                    }
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
            return img;
        }

        Entry entry(String name) {
            Entry e = entries.get(name);
            assertTrue(e != null, name + " is not in the image " + tar);
            return e;
        }

        String read(String name) throws Exception {
            Path tmp = Files.createTempFile("layer", ".tar.gz");
            try {
                Files.write(tmp, runBytes("tar", "-xOf", tar.toString(), entry(name).layer()));
                return run("tar", "-xzOf", tmp.toString(), name);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        return new String(runBytes(cmd), StandardCharsets.UTF_8);
    }

    private static byte[] runBytes(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed");
        return out;
    }
}
