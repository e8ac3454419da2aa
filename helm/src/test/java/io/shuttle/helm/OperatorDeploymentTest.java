package io.shuttle.helm;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.shuttle.helm.Chart.sets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The operator's Deployment, ServiceAccount and Service as rendered. */
class OperatorDeploymentTest {
    private static final String FULLNAME = "shuttle-shuttle-operator";

    private static JsonNode container(Chart.Rendered r) {
        JsonNode containers = r.one("Deployment", FULLNAME).path("spec").path("template").path("spec").path("containers");
        assertEquals(1, containers.size(), "the operator pod has one container");
        return containers.get(0);
    }

    private static Map<String, String> env(JsonNode container) {
        Map<String, String> env = new LinkedHashMap<>();
        container.path("env").forEach(e -> env.put(e.path("name").asText(), e.has("value") ? e.path("value").asText() : null));
        return env;
    }

    @Test
    void defaultsRenderTheOperatorInTheReleaseNamespace() {
        Chart.Rendered r = Chart.render();
        JsonNode deployment = r.one("Deployment", FULLNAME);
        assertEquals(Chart.NAMESPACE, deployment.path("metadata").path("namespace").asText());
        assertEquals(1, deployment.path("spec").path("replicas").asInt());
        assertEquals("Recreate", deployment.path("spec").path("strategy").path("type").asText(),
                "no leader election: an old and a new operator must never overlap");
        JsonNode podSpec = deployment.path("spec").path("template").path("spec");
        assertEquals(FULLNAME, podSpec.path("serviceAccountName").asText());
        assertEquals(FULLNAME, r.one("ServiceAccount", FULLNAME).path("metadata").path("name").asText());
        assertEquals(deployment.path("spec").path("selector").path("matchLabels"),
                r.one("Service", FULLNAME).path("spec").path("selector"), "the Service selects the operator pod");

        JsonNode c = container(r);
        assertEquals("ghcr.io/shuttle-project/shuttle-operator:" + Chart.appVersion(), c.path("image").asText());
        assertEquals("IfNotPresent", c.path("imagePullPolicy").asText());
        Map<String, String> env = env(c);
        assertEquals(Chart.NAMESPACE, env.get("QUARKUS_OPERATOR_SDK_CONTROLLERS_MOEDEPLOYMENT_NAMESPACES"),
                "namespaced by default: the operator watches the release namespace only");
        assertEquals("true", env.get("SHUTTLE_OPERATOR_SERVER_SIDE_APPLY"));
        assertFalse(env.containsKey("SHUTTLE_OPERATOR_HF_DOWNLOADER_IMAGE"), "no downloader image unless configured");
    }

    @Test
    void theOperatorRunsAsNonRootWithAReadOnlyRootFilesystem() {
        Chart.Rendered r = Chart.render();
        JsonNode podSpec = r.one("Deployment", FULLNAME).path("spec").path("template").path("spec");
        JsonNode pod = podSpec.path("securityContext");
        assertTrue(pod.path("runAsNonRoot").asBoolean());
        assertTrue(pod.path("runAsUser").asInt() > 0, "a numeric non-root user");
        assertEquals("RuntimeDefault", pod.path("seccompProfile").path("type").asText());
        JsonNode sc = container(r).path("securityContext");
        assertTrue(sc.path("readOnlyRootFilesystem").asBoolean());
        assertFalse(sc.path("allowPrivilegeEscalation").asBoolean(true));
        assertTrue(sc.path("runAsNonRoot").asBoolean());
        assertEquals("[\"ALL\"]", sc.path("capabilities").path("drop").toString());
        // A read-only root needs a writable /tmp for Quarkus/Vert.x.
        JsonNode mount = container(r).path("volumeMounts").get(0);
        assertEquals("/tmp", mount.path("mountPath").asText());
        assertTrue(podSpec.path("volumes").get(0).has("emptyDir"));
    }

    @Test
    void probesUseTheQuarkusHealthEndpoints() {
        JsonNode c = container(Chart.render());
        assertEquals("/q/health/started", c.path("startupProbe").path("httpGet").path("path").asText());
        assertEquals("/q/health/live", c.path("livenessProbe").path("httpGet").path("path").asText());
        assertEquals("/q/health/ready", c.path("readinessProbe").path("httpGet").path("path").asText());
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            assertEquals("http", c.path(probe).path("httpGet").path("port").asText(), probe + " port");
            assertTrue(c.path(probe).path("periodSeconds").asInt() > 0, probe + " period");
        }
        assertEquals(8080, c.path("ports").get(0).path("containerPort").asInt());
        assertEquals("http", c.path("ports").get(0).path("name").asText());
    }

    @Test
    void nonDefaultValuesReachThePod() {
        String values = """
                image:
                  repository: registry.example.com/shuttle/operator
                  digest: "sha256:%s"
                  pullPolicy: Always
                imagePullSecrets: [{name: regcred}]
                rbac:
                  scope: cluster
                operator:
                  hfDownloaderImage: registry.example.com/hf-cli:1
                  notReadyRecheck: 30s
                  extraEnv:
                    - {name: JAVA_TOOL_OPTIONS, value: "-XX:MaxRAMPercentage=75"}
                resources:
                  requests: {cpu: 250m, memory: 300Mi}
                  limits: {memory: 1Gi}
                nodeSelector: {node-pool: system}
                tolerations:
                  - {key: dedicated, operator: Equal, value: system, effect: NoSchedule}
                affinity:
                  nodeAffinity:
                    requiredDuringSchedulingIgnoredDuringExecution:
                      nodeSelectorTerms:
                        - matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
                priorityClassName: system-cluster-critical
                """.formatted("a".repeat(64));
        Chart.Rendered r = Chart.renderWithValues(values, sets("replicaCount", 0));
        JsonNode deployment = r.one("Deployment", FULLNAME);
        assertEquals(0, deployment.path("spec").path("replicas").asInt());
        JsonNode podSpec = deployment.path("spec").path("template").path("spec");
        JsonNode c = container(r);
        assertEquals("registry.example.com/shuttle/operator@sha256:" + "a".repeat(64), c.path("image").asText(),
                "a digest wins over the tag");
        assertEquals("Always", c.path("imagePullPolicy").asText());
        assertEquals("regcred", podSpec.path("imagePullSecrets").get(0).path("name").asText());
        Map<String, String> env = env(c);
        assertEquals("JOSDK_ALL_NAMESPACES", env.get("QUARKUS_OPERATOR_SDK_CONTROLLERS_MOEDEPLOYMENT_NAMESPACES"));
        assertEquals("registry.example.com/hf-cli:1", env.get("SHUTTLE_OPERATOR_HF_DOWNLOADER_IMAGE"));
        assertEquals("30s", env.get("SHUTTLE_OPERATOR_NOT_READY_RECHECK"));
        assertEquals("-XX:MaxRAMPercentage=75", env.get("JAVA_TOOL_OPTIONS"));
        assertEquals("1Gi", c.path("resources").path("limits").path("memory").asText());
        assertEquals("250m", c.path("resources").path("requests").path("cpu").asText());
        assertEquals("system", podSpec.path("nodeSelector").path("node-pool").asText());
        assertEquals("dedicated", podSpec.path("tolerations").get(0).path("key").asText());
        assertEquals("kubernetes.io/arch", podSpec.path("affinity").path("nodeAffinity")
                .path("requiredDuringSchedulingIgnoredDuringExecution").path("nodeSelectorTerms").get(0)
                .path("matchExpressions").get(0).path("key").asText());
        assertEquals("system-cluster-critical", podSpec.path("priorityClassName").asText());
    }

    @Test
    void watchNamespacesBecomeTheOperatorsNamespaceList() {
        Chart.Rendered r = Chart.render(sets("rbac.watchNamespaces[0]", "team-a", "rbac.watchNamespaces[1]", "team-b"));
        assertEquals("team-a,team-b", env(container(r)).get("QUARKUS_OPERATOR_SDK_CONTROLLERS_MOEDEPLOYMENT_NAMESPACES"));
    }

    @Test
    void anExistingServiceAccountCanBeUsed() {
        Chart.Rendered r = Chart.render(sets("serviceAccount.create", false, "serviceAccount.name", "platform-operator"));
        assertEquals(List.of(), r.all("ServiceAccount"), "no ServiceAccount created");
        assertEquals("platform-operator",
                r.one("Deployment", FULLNAME).path("spec").path("template").path("spec").path("serviceAccountName").asText());
        List<String> subjects = new ArrayList<>();
        r.all("RoleBinding").forEach(b -> b.path("subjects").forEach(s -> subjects.add(s.path("name").asText())));
        r.all("ClusterRoleBinding").forEach(b -> b.path("subjects").forEach(s -> subjects.add(s.path("name").asText())));
        assertFalse(subjects.isEmpty());
        assertTrue(subjects.stream().allMatch("platform-operator"::equals), "every binding names that account: " + subjects);
    }
}
