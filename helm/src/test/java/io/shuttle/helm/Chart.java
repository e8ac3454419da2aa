package io.shuttle.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The chart under test and how to render it: {@code helm template} through helm-java (Helm 3.16
 * in-process, no cluster), release {@value #RELEASE} in namespace {@value #NAMESPACE}.
 *
 * <p>helm-java's template has no {@code --api-versions}, so the Prometheus Operator objects are
 * rendered with {@code monitoring.forceEnable=true}; without it they must be absent, which is
 * what a cluster without monitoring.coreos.com/v1 gets.
 */
final class Chart {
    static final String RELEASE = "shuttle";
    static final String NAMESPACE = "serving";
    static final ObjectMapper YAML = new YAMLMapper();
    private static final String HOOK_PREFIX = "helm.sh/hook";
    private static final String RENAMED_HOOK_PREFIX = "test.shuttle.io/hook";

    private Chart() {
    }

    /** helm/shuttle-operator (surefire passes it; the fallback is for a run from the module folder). */
    static Path dir() {
        return Path.of(System.getProperty("shuttle.chart.dir", "shuttle-operator")).toAbsolutePath().normalize();
    }

    /** The repository's crds/ folder, which the build generates and commits. */
    static Path rootCrds() {
        return Path.of(System.getProperty("shuttle.crds.dir", "../crds")).toAbsolutePath().normalize();
    }

    /** Renders with the chart's defaults plus {@code --set key=value} for each entry. */
    static Rendered render(Map<String, Object> sets) {
        TemplateCommand template = new Helm(dir()).template().withName(RELEASE).withNamespace(NAMESPACE);
        sets.forEach(template::set);
        return Rendered.parse(template.call());
    }

    static Rendered render() {
        return render(Map.of());
    }

    /** Renders with a values file (a YAML text written to a temporary file) plus sets. */
    static Rendered renderWithValues(String valuesYaml, Map<String, Object> sets) {
        try {
            Path file = Files.createTempFile("shuttle-values", ".yaml");
            try {
                Files.writeString(file, valuesYaml);
                TemplateCommand template = new Helm(dir()).template().withName(RELEASE).withNamespace(NAMESPACE)
                        .withValuesFile(file);
                sets.forEach(template::set);
                return Rendered.parse(template.call());
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a values file for helm template", e);
        }
    }

    /**
     * Renders with the hook objects included. helm-java's template prints only the release
     * manifest and drops hooks (unlike {@code helm template}), so this renders a copy of the chart
     * whose {@code helm.sh/hook*} annotation keys are renamed, which makes Helm treat the hook
     * objects as plain manifests, and renames them back in the parsed objects.
     */
    static Rendered renderWithHooks(Map<String, Object> sets) {
        Path copy = null;
        try {
            copy = Files.createTempDirectory("shuttle-chart");
            Path target = copy.resolve(dir().getFileName());
            try (var files = Files.walk(dir())) {
                for (Path source : files.toList()) {
                    Path to = target.resolve(dir().relativize(source).toString());
                    if (Files.isDirectory(source)) {
                        Files.createDirectories(to);
                    } else if (source.startsWith(dir().resolve("templates"))) {
                        Files.writeString(to, Files.readString(source).replace(HOOK_PREFIX, RENAMED_HOOK_PREFIX));
                    } else {
                        Files.copy(source, to);
                    }
                }
            }
            TemplateCommand template = new Helm(target).template().withName(RELEASE).withNamespace(NAMESPACE);
            sets.forEach(template::set);
            String yaml = template.call();
            return Rendered.parse(yaml.replace(RENAMED_HOOK_PREFIX, HOOK_PREFIX));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy the chart to render its hooks", e);
        } finally {
            deleteTree(copy);
        }
    }

    private static void deleteTree(Path root) {
        if (root == null) {
            return;
        }
        try (var files = Files.walk(root)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the temporary chart copy " + root, e);
        }
    }

    /** The chart's appVersion from Chart.yaml (the default image tag). */
    static String appVersion() {
        try {
            return YAML.readTree(dir().resolve("Chart.yaml").toFile()).path("appVersion").asText();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir().resolve("Chart.yaml"), e);
        }
    }

    /** The objects of one {@code helm template} output, in output order. */
    record Rendered(List<JsonNode> objects) {

        static Rendered parse(String yaml) {
            List<JsonNode> out = new ArrayList<>();
            try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class)
                    .readValues(new YAMLFactory().createParser(yaml))) {
                while (docs.hasNext()) {
                    JsonNode doc = docs.next();
                    if (doc != null && doc.isObject() && doc.has("kind")) {
                        out.add(doc);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("helm template printed YAML that does not parse:\n" + yaml, e);
            }
            return new Rendered(List.copyOf(out));
        }

        List<JsonNode> all(String kind) {
            return objects.stream().filter(o -> kind.equals(o.path("kind").asText())).toList();
        }

        JsonNode one(String kind, String name) {
            List<JsonNode> found = all(kind).stream().filter(o -> name.equals(o.path("metadata").path("name").asText())).toList();
            if (found.size() != 1) {
                throw new AssertionError("expected one " + kind + " " + name + ", found " + found.size() + " among " + names());
            }
            return found.getFirst();
        }

        JsonNode only(String kind) {
            List<JsonNode> found = all(kind);
            if (found.size() != 1) {
                throw new AssertionError("expected one " + kind + ", found " + found.size() + " among " + names());
            }
            return found.getFirst();
        }

        /** "Kind/name" of every object, for failure messages. */
        List<String> names() {
            return objects.stream().map(o -> o.path("kind").asText() + "/" + o.path("metadata").path("name").asText()).toList();
        }

        /** Objects that are Helm hooks (helm.sh/hook annotation). */
        List<JsonNode> hooks() {
            return objects.stream().filter(o -> o.path("metadata").path("annotations").has("helm.sh/hook")).toList();
        }

        /** Objects Helm installs as the release (not hooks). */
        List<JsonNode> releaseObjects() {
            return objects.stream().filter(o -> !o.path("metadata").path("annotations").has("helm.sh/hook")).toList();
        }
    }

    /** The texts of a JSON array. */
    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(v -> out.add(v.asText()));
        return out;
    }

    /** A JSON object of strings (labels, annotations) as a map. */
    static Map<String, String> stringMap(JsonNode object) {
        Map<String, String> out = new LinkedHashMap<>();
        object.properties().forEach(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    /** A small ordered map for --set arguments. */
    static Map<String, Object> sets(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }
}
