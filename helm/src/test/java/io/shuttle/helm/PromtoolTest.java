package io.shuttle.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * PromQL sanity with {@code promtool check rules} (Debian package prometheus), skipped where
 * promtool is not installed: the alerts as rendered, and the dashboard's and the
 * prometheus-adapter's queries turned into recording rules (Grafana and adapter placeholders
 * replaced by plain values).
 */
class PromtoolTest {
    private static final long TIMEOUT_SECONDS = 60;

    private static Path promtool() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, "promtool");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    private static void check(Path promtool, Path rules) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(promtool.toString(), "check", "rules", rules.toString()).redirectErrorStream(true).start();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("promtool check rules " + rules + " did not finish in " + TIMEOUT_SECONDS + " s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), () -> "promtool check rules " + rules + ":\n" + out + "\n" + read(rules));
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    @Test
    void alertsAreValidPromql(@TempDir Path tmp) throws Exception {
        Path promtool = promtool();
        assumeTrue(promtool != null, "promtool is not installed (apt-get install prometheus)");
        JsonNode rule = Chart.render(Map.of("monitoring.enabled", true, "monitoring.forceEnable", true)).only("PrometheusRule");
        Path file = tmp.resolve("alerts.yaml");
        Chart.YAML.writeValue(file.toFile(), rule.path("spec"));
        check(promtool, file);
    }

    @Test
    void dashboardAndAdapterQueriesAreValidPromql(@TempDir Path tmp) throws Exception {
        Path promtool = promtool();
        assumeTrue(promtool != null, "promtool is not installed (apt-get install prometheus)");
        Chart.Rendered r = Chart.render(Map.of("monitoring.enabled", true, "prometheusAdapter.enabled", true));
        ObjectNode root = Chart.YAML.createObjectNode();
        ArrayNode groups = root.putArray("groups");

        ArrayNode dashboardRules = group(groups, "dashboard");
        JsonNode dashboard = new ObjectMapper().readTree(
                r.one("ConfigMap", "shuttle-shuttle-operator-dashboard").path("data").path("shuttle-serving.json").asText());
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                String expr = target.path("expr").asText().replace("$__rate_interval", "1m")
                        .replace("$namespace", "serving").replace("$deployment", ".*");
                record(dashboardRules, "shuttle_dashboard_panel_" + panel.path("id").asText() + "_" + target.path("refId").asText(), expr);
            }
        }
        ArrayNode adapterRules = group(groups, "adapter");
        JsonNode config = Chart.YAML.readTree(
                r.one("ConfigMap", "shuttle-shuttle-operator-prometheus-adapter").path("data").path("config.yaml").asText());
        for (JsonNode rule : config.path("rules")) {
            String series = rule.path("seriesQuery").asText().replaceAll("\\{.*", "");
            String expr = rule.path("metricsQuery").asText().replace("<<.Series>>", series)
                    .replace("<<.LabelMatchers>>", "namespace=\"serving\",pod=~\"demo-.*\"").replace("<<.GroupBy>>", "pod");
            record(adapterRules, "shuttle_adapter_" + rule.path("name").path("as").asText(), expr);
        }
        assertTrue(dashboardRules.size() > 10 && adapterRules.size() == 4, "rules to check: " + root);
        Path file = tmp.resolve("queries.yaml");
        Chart.YAML.writeValue(file.toFile(), root);
        check(promtool, file);
    }

    private static ArrayNode group(ArrayNode groups, String name) {
        ObjectNode g = groups.addObject();
        g.put("name", name);
        return g.putArray("rules");
    }

    private static void record(ArrayNode rules, String name, String expr) {
        ObjectNode rule = rules.addObject();
        rule.put("record", name);
        rule.put("expr", expr);
    }
}
