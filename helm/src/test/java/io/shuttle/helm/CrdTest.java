package io.shuttle.helm;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.shuttle.operator.api.MoEDeployment;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static io.shuttle.helm.Chart.sets;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chart's CRD (crds/ plus the pre-install/pre-upgrade hook that applies it). */
class CrdTest {
    private static final String HOOK_NAME = "shuttle-shuttle-operator-crd-upgrade";
    private static final String CRD_FILE = HasMetadata.getFullResourceName(MoEDeployment.class) + "-v1.yml";

    private static Set<String> yamlFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            Set<String> names = new TreeSet<>();
            files.filter(Files::isRegularFile).map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".yml") || n.endsWith(".yaml")).forEach(names::add);
            return names;
        }
    }

    @Test
    void chartCrdsAreTheRepositoryCrds() throws IOException {
        Path chartCrds = Chart.dir().resolve("crds");
        assertEquals(yamlFiles(Chart.rootCrds()), yamlFiles(chartCrds), "the chart's crds/ holds the repository's CRD files");
        for (String name : yamlFiles(Chart.rootCrds())) {
            byte[] root = Files.readAllBytes(Chart.rootCrds().resolve(name));
            byte[] chart = Files.readAllBytes(chartCrds.resolve(name));
            assertArrayEquals(root, chart, () -> "helm/shuttle-operator/crds/" + name + " differs from crds/" + name
                    + "; refresh it: cp crds/" + name + " helm/shuttle-operator/crds/");
        }
        assertTrue(yamlFiles(chartCrds).contains(CRD_FILE), "the MoEDeployment CRD " + CRD_FILE + " is in the chart");
    }

    @Test
    void hookObjectsAreAnnotatedAndOrdered() {
        Chart.Rendered r = Chart.renderWithHooks(Map.of());
        List<JsonNode> hooks = r.hooks();
        assertEquals(Set.of("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Job"),
                new TreeSet<>(hooks.stream().map(h -> h.path("kind").asText()).toList()));
        assertEquals(5, hooks.size(), () -> "hook objects: " + r.names());
        for (JsonNode hook : hooks) {
            JsonNode annotations = hook.path("metadata").path("annotations");
            String what = hook.path("kind").asText() + " " + hook.path("metadata").path("name").asText();
            assertEquals("pre-install,pre-upgrade", annotations.path("helm.sh/hook").asText(), what);
            assertEquals("before-hook-creation,hook-succeeded", annotations.path("helm.sh/hook-delete-policy").asText(), what);
            int weight = Integer.parseInt(annotations.path("helm.sh/hook-weight").asText());
            if (hook.path("kind").asText().equals("Job")) {
                assertEquals(-5, weight, what);
            } else {
                assertTrue(weight < -5, what + ": created before the Job");
            }
        }
        // The release's own objects are not hooks: the Deployment changes only after the CRD did.
        assertTrue(r.releaseObjects().stream().anyMatch(o -> o.path("kind").asText().equals("Deployment")));
    }

    @Test
    void hookMayOnlyTouchTheOneCrd() {
        Chart.Rendered r = Chart.renderWithHooks(Map.of());
        JsonNode role = r.hooks().stream().filter(h -> h.path("kind").asText().equals("ClusterRole")).findFirst().orElseThrow();
        String crdName = HasMetadata.getFullResourceName(MoEDeployment.class);
        assertEquals(Map.of("apiextensions.k8s.io/customresourcedefinitions#[\"" + crdName + "\"]",
                Set.of("create", "get", "patch")), RbacTest.rules(role));
        JsonNode binding = r.hooks().stream().filter(h -> h.path("kind").asText().equals("ClusterRoleBinding")).findFirst().orElseThrow();
        assertEquals(role.path("metadata").path("name"), binding.path("roleRef").path("name"));
        assertEquals(HOOK_NAME, binding.path("subjects").get(0).path("name").asText());
        assertEquals(Chart.NAMESPACE, binding.path("subjects").get(0).path("namespace").asText());
    }

    @Test
    void hookJobAppliesTheSameCrdFile() throws IOException {
        Chart.Rendered r = Chart.renderWithHooks(sets("crds.upgradeJob.image.repository", "mirror.example.com/kubectl",
                "crds.upgradeJob.image.tag", "v1.31.4"));
        String shipped = Files.readString(Chart.rootCrds().resolve(CRD_FILE));
        String inConfigMap = r.one("ConfigMap", HOOK_NAME).path("data").path("crd.yaml").asText();
        assertEquals(shipped.strip(), inConfigMap.strip(), "the hook applies the crds/ file unchanged");

        JsonNode job = r.one("Job", HOOK_NAME);
        JsonNode pod = job.path("spec").path("template").path("spec");
        assertEquals(HOOK_NAME, pod.path("serviceAccountName").asText());
        assertEquals("Never", pod.path("restartPolicy").asText());
        assertTrue(pod.path("securityContext").path("runAsNonRoot").asBoolean());
        JsonNode c = pod.path("containers").get(0);
        assertEquals("mirror.example.com/kubectl:v1.31.4", c.path("image").asText());
        List<String> args = Chart.strings(c.path("args"));
        assertEquals(List.of("apply", "--server-side", "--force-conflicts", "--field-manager=shuttle-crd-upgrade",
                "--filename=/crd/crd.yaml"), args);
        assertTrue(c.path("securityContext").path("readOnlyRootFilesystem").asBoolean());
        assertFalse(c.path("securityContext").path("allowPrivilegeEscalation").asBoolean(true));
        assertEquals(HOOK_NAME, pod.path("volumes").get(0).path("configMap").path("name").asText());
        assertTrue(job.path("spec").path("activeDeadlineSeconds").asInt() > 0, "the hook cannot hang an install forever");
    }

    @Test
    void hookCanBeTurnedOff() {
        Chart.Rendered r = Chart.renderWithHooks(sets("crds.upgradeJob.enabled", false));
        assertEquals(List.of(), r.hooks());
    }
}
