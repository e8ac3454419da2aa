package io.shuttle.helm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shuttle.operator.desired.AutoscalerManifests;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.Role;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

import static io.shuttle.helm.Chart.sets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Monitoring objects: none by default; ServiceMonitor, PodMonitor and PrometheusRule only when
 * enabled and the Prometheus Operator API is served (forced here, see {@link Chart}); the
 * dashboard and the prometheus-adapter rules only when enabled.
 */
class MonitoringTest {
    private static final String FULLNAME = "shuttle-shuttle-operator";
    private static final List<String> PROMETHEUS_OPERATOR_KINDS = List.of("ServiceMonitor", "PodMonitor", "PrometheusRule");
    private static final Map<String, Object> ALL_ON = sets("monitoring.enabled", true, "monitoring.forceEnable", true,
            "monitoring.serviceMonitor.enabled", true, "prometheusAdapter.enabled", true);

    @Test
    void nothingByDefault() {
        Chart.Rendered r = Chart.render();
        for (String kind : PROMETHEUS_OPERATOR_KINDS) {
            assertEquals(List.of(), r.all(kind), kind);
        }
        assertEquals(List.of(), r.all("ConfigMap"), "no dashboard or adapter ConfigMap by default");
    }

    @Test
    void prometheusOperatorObjectsNeedTheirApi() {
        // helm template serves no monitoring.coreos.com/v1, as a cluster without the Prometheus Operator.
        Chart.Rendered r = Chart.render(sets("monitoring.enabled", true, "monitoring.serviceMonitor.enabled", true));
        for (String kind : PROMETHEUS_OPERATOR_KINDS) {
            assertEquals(List.of(), r.all(kind), kind + " rendered without the monitoring.coreos.com/v1 API");
        }
        r.one("ConfigMap", FULLNAME + "-dashboard");
    }

    @Test
    void everythingWhenEnabledAndForced() {
        Chart.Rendered r = Chart.render(ALL_ON);
        for (String kind : PROMETHEUS_OPERATOR_KINDS) {
            assertEquals(1, r.all(kind).size(), kind);
        }
        r.one("ConfigMap", FULLNAME + "-dashboard");
        r.one("ConfigMap", FULLNAME + "-prometheus-adapter");
        Chart.Rendered noOperatorScrape = Chart.render(sets("monitoring.enabled", true, "monitoring.forceEnable", true));
        assertEquals(List.of(), noOperatorScrape.all("ServiceMonitor"), "the operator is scraped only on request");
    }

    @Test
    void monitoringLabelsLetPrometheusSelectTheObjects() {
        Map<String, Object> values = new LinkedHashMap<>(ALL_ON);
        values.put("monitoring.labels.release", "kube-prometheus-stack");
        Chart.Rendered r = Chart.render(values);
        for (String kind : PROMETHEUS_OPERATOR_KINDS) {
            assertEquals("kube-prometheus-stack", r.only(kind).path("metadata").path("labels").path("release").asText(), kind);
        }
    }

    /** Does a Kubernetes label selector (matchLabels + matchExpressions In/Exists) select these labels? */
    private static boolean selects(JsonNode selector, Map<String, String> labels) {
        for (Map.Entry<String, String> e : Chart.stringMap(selector.path("matchLabels")).entrySet()) {
            if (!e.getValue().equals(labels.get(e.getKey()))) {
                return false;
            }
        }
        for (JsonNode expr : selector.path("matchExpressions")) {
            String value = labels.get(expr.path("key").asText());
            Set<String> values = new TreeSet<>();
            expr.path("values").forEach(v -> values.add(v.asText()));
            boolean ok = switch (expr.path("operator").asText()) {
                case "In" -> value != null && values.contains(value);
                case "Exists" -> value != null;
                default -> throw new AssertionError("operator not handled by the test: " + expr);
            };
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    @Test
    void podMonitorSelectsTheServingPodsTheOperatorCreates() {
        Chart.Rendered r = Chart.render(ALL_ON);
        JsonNode spec = r.only("PodMonitor").path("spec");
        for (Role role : Role.values()) {
            Map<String, String> podLabels = Names.roleLabels("demo", role);
            assertTrue(selects(spec.path("selector"), podLabels), role + " pods " + podLabels + " not selected");
        }
        JsonNode operatorPodLabels = r.one("Deployment", FULLNAME).path("spec").path("template").path("metadata").path("labels");
        assertFalse(selects(spec.path("selector"), Chart.stringMap(operatorPodLabels)),
                "the operator pod is not a serving pod");
        JsonNode endpoint = spec.path("podMetricsEndpoints").get(0);
        assertEquals("http", endpoint.path("port").asText());
        assertEquals("/metrics", endpoint.path("path").asText());
        Set<String> targetLabels = new TreeSet<>();
        endpoint.path("relabelings").forEach(rl -> targetLabels.add(rl.path("targetLabel").asText()));
        assertEquals(Set.of("shuttle_role", "shuttle_deployment", "statefulset"), targetLabels);
        assertEquals(List.of(Chart.NAMESPACE), Chart.strings(spec.path("namespaceSelector").path("matchNames")),
                "namespaced mode scrapes the watched namespaces");
        JsonNode clusterWide = Chart.render(withScopeCluster()).only("PodMonitor").path("spec").path("namespaceSelector");
        assertTrue(clusterWide.path("any").asBoolean(), "cluster mode scrapes every namespace");
    }

    private static Map<String, Object> withScopeCluster() {
        Map<String, Object> values = new LinkedHashMap<>(ALL_ON);
        values.put("rbac.scope", "cluster");
        return values;
    }

    @Test
    void alertsCoverTheServingSignals() {
        // A values file: helm-java's --set escapes the dot of a number, which turns 0.4 into a string.
        Chart.Rendered r = Chart.renderWithValues("""
                monitoring:
                  enabled: true
                  forceEnable: true
                  prometheusRule:
                    for: 15m
                    thresholds: {bubbleRatio: 0.4, rejectedRatio: 0.05, ttftP99Seconds: 5}
                """, Map.of());
        List<JsonNode> rules = new ArrayList<>();
        r.only("PrometheusRule").path("spec").path("groups").forEach(g -> g.path("rules").forEach(rules::add));
        Map<String, String> exprByAlert = new TreeMap<>();
        rules.forEach(rule -> exprByAlert.put(rule.path("alert").asText(), rule.path("expr").asText()));
        assertEquals(Set.of("ShuttlePodNotReady", "ShuttleServingTargetDown", "ShuttlePipelineBubbleHigh",
                "ShuttleM2nMissingSenders", "ShuttleRequestsRejected", "ShuttleTtftP99High", "ShuttleDecodingStalled"),
                exprByAlert.keySet());
        assertTrue(exprByAlert.get("ShuttleDecodingStalled").contains("shuttle_stalled_seconds) > 60"), "default threshold");
        assertTrue(exprByAlert.get("ShuttlePipelineBubbleHigh").contains("shuttle_pipeline_bubble_ratio"));
        assertTrue(exprByAlert.get("ShuttlePipelineBubbleHigh").contains("> 0.4"), "threshold from values");
        assertTrue(exprByAlert.get("ShuttleM2nMissingSenders").contains("increase(shuttle_m2n_missing_sender_rounds_total["));
        assertTrue(exprByAlert.get("ShuttleRequestsRejected").contains("shuttle_requests_total{status=\"429\"}"));
        assertTrue(exprByAlert.get("ShuttleTtftP99High").contains("histogram_quantile(0.99"));
        assertTrue(exprByAlert.get("ShuttleTtftP99High").contains("shuttle_time_to_first_token_seconds_bucket"));
        // The not-ready alert finds pods by their StatefulSet names (kube-state-metrics has no pod labels by default).
        String notReady = exprByAlert.get("ShuttlePodNotReady");
        assertTrue(notReady.contains("namespace=~\"" + Chart.NAMESPACE + "\""), notReady);
        Pattern owner = Pattern.compile(".+-(attention|experts)");
        for (Role role : Role.values()) {
            assertTrue(owner.matcher(Names.statefulSet("demo", role)).matches(), "owner regex misses " + role);
            assertTrue(notReady.contains(owner.pattern()));
        }
        for (JsonNode rule : rules) {
            assertEquals("15m", rule.path("for").asText());
            assertEquals("warning", rule.path("labels").path("severity").asText());
            assertTrue(rule.path("annotations").path("summary").asText().contains("{{ $labels."),
                    "Prometheus templates survive Helm's: " + rule.path("annotations"));
            assertBalancedParentheses(rule.path("expr").asText());
        }
        Chart.Rendered noKsm = Chart.render(sets("monitoring.enabled", true, "monitoring.forceEnable", true,
                "monitoring.prometheusRule.kubeStateMetrics", false));
        assertFalse(noKsm.only("PrometheusRule").toString().contains("ShuttlePodNotReady"));
    }

    private static void assertBalancedParentheses(String expr) {
        int depth = 0;
        for (char c : expr.toCharArray()) {
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            assertTrue(depth >= 0, "unbalanced: " + expr);
        }
        assertEquals(0, depth, "unbalanced: " + expr);
    }

    @Test
    void dashboardShowsTheIssueSignals() throws IOException {
        Chart.Rendered r = Chart.render(sets("monitoring.enabled", true, "monitoring.dashboard.namespace", "grafana"));
        JsonNode cm = r.one("ConfigMap", FULLNAME + "-dashboard");
        assertEquals("grafana", cm.path("metadata").path("namespace").asText());
        assertEquals("1", cm.path("metadata").path("labels").path("grafana_dashboard").asText());
        JsonNode dashboard = new ObjectMapper().readTree(cm.path("data").path("shuttle-serving.json").asText());
        List<String> exprs = new ArrayList<>();
        dashboard.path("panels").forEach(p -> p.path("targets").forEach(t -> exprs.add(t.path("expr").asText())));
        for (String metric : List.of("shuttle_time_to_first_token_seconds_bucket", "shuttle_time_per_output_token_seconds_bucket",
                "shuttle_generation_tokens_total", "shuttle_kv_cache_usage_ratio", "shuttle_attention_seconds_sum",
                "shuttle_expert_seconds_sum", "shuttle_communication_seconds_sum", "shuttle_expert_tokens_total",
                "shuttle_pipeline_bubble_ratio")) {
            assertTrue(exprs.stream().anyMatch(e -> e.contains(metric)), "no panel queries " + metric);
        }
        assertTrue(exprs.stream().anyMatch(e -> e.contains("sum by (expert)")), "per-expert load");
        Set<String> ids = new TreeSet<>();
        dashboard.path("panels").forEach(p -> assertTrue(ids.add(p.path("id").asText()), "duplicate panel id"));
        exprs.forEach(MonitoringTest::assertBalancedParentheses);
    }

    @Test
    void prometheusAdapterRulesExposeTheAutoscalingMetrics() throws IOException {
        Chart.Rendered r = Chart.render(sets("prometheusAdapter.enabled", true, "prometheusAdapter.namespace", "monitoring"));
        JsonNode cm = r.one("ConfigMap", FULLNAME + "-prometheus-adapter");
        assertEquals("monitoring", cm.path("metadata").path("namespace").asText());
        JsonNode config = Chart.YAML.readTree(cm.path("data").path("config.yaml").asText());
        Set<String> exposed = new TreeSet<>();
        for (JsonNode rule : config.path("rules")) {
            exposed.add(rule.path("name").path("as").asText());
            assertEquals("pod", rule.path("resources").path("overrides").path("pod").path("resource").asText(),
                    "HPA Pods metrics need the pod mapping");
            assertTrue(rule.path("metricsQuery").asText().contains("<<.LabelMatchers>>"));
        }
        // The operator's HPAs ask the adapter for these names (AutoscalerManifests, RoleAutoscalingSpec).
        assertEquals(Set.of("shuttle_requests_waiting", "shuttle_kv_cache_usage_ratio",
                AutoscalerManifests.EXPERT_TOKENS_PER_SECOND, "shuttle_expert_seconds_mean"), exposed);
    }
}
