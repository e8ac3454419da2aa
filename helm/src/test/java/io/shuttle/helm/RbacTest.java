package io.shuttle.helm;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.shuttle.operator.api.MoEDeployment;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static io.shuttle.helm.Chart.sets;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The operator's RBAC, rule by rule: exactly the verbs the reconciler needs (see the comment in
 * templates/rbac.yaml), namespaced by default, cluster-wide as an option.
 */
class RbacTest {
    private static final String FULLNAME = "shuttle-shuttle-operator";
    private static final String CLUSTER_NAME = FULLNAME + "-" + Chart.NAMESPACE;
    private static final Set<String> READ = Set.of("get", "list", "watch");
    private static final Set<String> READ_WRITE = Set.of("get", "list", "watch", "create", "update", "patch");

    /** What the operator needs: "group/resource" to verbs (core group written as ""). */
    private static Map<String, Set<String>> expectedRules(boolean hpa, boolean keda) {
        Map<String, Set<String>> m = new TreeMap<>();
        m.put("shuttle.io/moedeployments", READ);
        m.put("shuttle.io/moedeployments/status", Set.of("patch"));
        m.put("shuttle.io/moedeployments/finalizers", Set.of("update"));
        m.put("/configmaps", READ_WRITE);
        m.put("/services", READ_WRITE);
        m.put("/secrets", READ_WRITE);
        m.put("apps/statefulsets", READ_WRITE);
        m.put("policy/poddisruptionbudgets", READ_WRITE);
        // delete: the expert pool restarts together on a template change (ExpertPoolRestart); no create, no evictions
        m.put("/pods", Set.of("list", "watch", "delete"));
        m.put("/events", Set.of("create"));
        if (hpa) {
            m.put("autoscaling/horizontalpodautoscalers", Set.of("get", "list", "watch", "create", "update", "patch", "delete"));
        }
        if (keda) {
            m.put("keda.sh/scaledobjects", Set.of("get", "create", "update", "patch", "delete"));
        }
        return m;
    }

    /** The rules of a Role or ClusterRole as "group/resource" to verbs; resourceNames rules are keyed "...#names". */
    static Map<String, Set<String>> rules(JsonNode role) {
        Map<String, Set<String>> m = new TreeMap<>();
        for (JsonNode rule : role.path("rules")) {
            Set<String> verbs = new TreeSet<>();
            rule.path("verbs").forEach(v -> verbs.add(v.asText()));
            String names = rule.has("resourceNames") ? "#" + rule.path("resourceNames").toString() : "";
            for (JsonNode group : rule.path("apiGroups")) {
                for (JsonNode resource : rule.path("resources")) {
                    String key = group.asText() + "/" + resource.asText() + names;
                    if (m.containsKey(key)) {
                        throw new AssertionError(role.path("metadata").path("name").asText() + " grants " + key + " twice");
                    }
                    m.put(key, verbs);
                }
            }
        }
        return m;
    }

    private static Map<String, Set<String>> sorted(Map<String, Set<String>> m) {
        Map<String, Set<String>> out = new TreeMap<>();
        m.forEach((k, v) -> out.put(k, new TreeSet<>(v)));
        return out;
    }

    private static void assertNoWildcards(Chart.Rendered r) {
        for (String kind : List.of("Role", "ClusterRole")) {
            for (JsonNode role : r.all(kind)) {
                String text = role.path("rules").toString();
                assertFalse(text.contains("\"*\""), kind + " " + role.path("metadata").path("name").asText() + " uses *: " + text);
            }
        }
    }

    @Test
    void namespacedByDefault() {
        Chart.Rendered r = Chart.render();
        JsonNode role = r.one("Role", FULLNAME);
        assertEquals(Chart.NAMESPACE, role.path("metadata").path("namespace").asText());
        assertEquals(sorted(expectedRules(true, true)), rules(role));
        JsonNode binding = r.one("RoleBinding", FULLNAME);
        assertEquals(Chart.NAMESPACE, binding.path("metadata").path("namespace").asText());
        assertEquals("Role", binding.path("roleRef").path("kind").asText());
        assertEquals(FULLNAME, binding.path("roleRef").path("name").asText());
        assertEquals("ServiceAccount", binding.path("subjects").get(0).path("kind").asText());
        assertEquals(FULLNAME, binding.path("subjects").get(0).path("name").asText());
        assertEquals(Chart.NAMESPACE, binding.path("subjects").get(0).path("namespace").asText());

        // The only cluster-wide grant: read the operator's own CRD, by name.
        JsonNode crdReader = r.only("ClusterRole");
        assertEquals(CLUSTER_NAME + "-crd-reader", crdReader.path("metadata").path("name").asText());
        String crdName = HasMetadata.getFullResourceName(MoEDeployment.class);
        assertEquals(Map.of("apiextensions.k8s.io/customresourcedefinitions#[\"" + crdName + "\"]", Set.of("get")),
                rules(crdReader));
        assertEquals(crdReader.path("metadata").path("name"), r.only("ClusterRoleBinding").path("roleRef").path("name"));
        assertNoWildcards(r);
    }

    @Test
    void clusterWideScopeUsesOneClusterRoleWithTheSameRules() {
        Chart.Rendered r = Chart.render(sets("rbac.scope", "cluster"));
        assertEquals(List.of(), r.all("Role"), "no namespaced Role in cluster scope");
        assertEquals(List.of(), r.all("RoleBinding"));
        JsonNode role = r.one("ClusterRole", CLUSTER_NAME);
        assertFalse(role.path("metadata").has("namespace"));
        assertEquals(sorted(expectedRules(true, true)), rules(role));
        JsonNode binding = r.one("ClusterRoleBinding", CLUSTER_NAME);
        assertEquals("ClusterRole", binding.path("roleRef").path("kind").asText());
        assertEquals(CLUSTER_NAME, binding.path("roleRef").path("name").asText());
        assertEquals(Chart.NAMESPACE, binding.path("subjects").get(0).path("namespace").asText());
        r.one("ClusterRole", CLUSTER_NAME + "-crd-reader");
        assertNoWildcards(r);
    }

    @Test
    void everyWatchedNamespaceGetsItsOwnRole() {
        Chart.Rendered r = Chart.render(sets("rbac.watchNamespaces[0]", "team-a", "rbac.watchNamespaces[1]", "team-b"));
        Set<String> roleNamespaces = new TreeSet<>();
        r.all("Role").forEach(role -> {
            roleNamespaces.add(role.path("metadata").path("namespace").asText());
            assertEquals(sorted(expectedRules(true, true)), rules(role));
        });
        assertEquals(Set.of("team-a", "team-b"), roleNamespaces, "no Role in the release namespace unless watched");
        Set<String> bindingNamespaces = new TreeSet<>();
        r.all("RoleBinding").forEach(b -> {
            bindingNamespaces.add(b.path("metadata").path("namespace").asText());
            assertEquals(Chart.NAMESPACE, b.path("subjects").get(0).path("namespace").asText(),
                    "the subject is the operator's account in the release namespace");
        });
        assertEquals(roleNamespaces, bindingNamespaces);
    }

    @Test
    void autoscalerGrantsFollowTheValues() {
        Chart.Rendered none = Chart.render(sets("rbac.autoscaling.hpa", false, "rbac.autoscaling.keda", false));
        assertEquals(sorted(expectedRules(false, false)), rules(none.one("Role", FULLNAME)));
        Chart.Rendered kedaOnly = Chart.render(sets("rbac.autoscaling.hpa", false, "rbac.scope", "cluster"));
        assertEquals(sorted(expectedRules(false, true)), rules(kedaOnly.one("ClusterRole", CLUSTER_NAME)));
    }

    @Test
    void secretsCanNeverBeDeleted() {
        for (Chart.Rendered r : List.of(Chart.render(), Chart.render(sets("rbac.scope", "cluster")))) {
            for (String kind : List.of("Role", "ClusterRole")) {
                for (JsonNode role : r.all(kind)) {
                    Set<String> verbs = rules(role).getOrDefault("/secrets", Set.of());
                    assertFalse(verbs.contains("delete") || verbs.contains("deletecollection"), "secrets: " + verbs);
                }
            }
        }
    }

    @Test
    void rbacCanBeLeftToTheCluster() {
        Chart.Rendered r = Chart.render(sets("rbac.create", false));
        for (String kind : List.of("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")) {
            assertTrue(r.all(kind).isEmpty(), kind + " rendered with rbac.create=false");
        }
    }
}
