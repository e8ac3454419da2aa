package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DesiredStateTest {
    private final TopologyResolver resolver = new TopologyResolver(new Planner()::plan);

    private List<HasMetadata> children(MoEDeployment d) {
        return DesiredState.children(d, resolver.resolve(d.getSpec()), "digest", Optional.empty());
    }

    private static <T extends HasMetadata> T find(List<HasMetadata> all, Class<T> type, String name) {
        return all.stream().filter(type::isInstance).map(type::cast).filter(r -> r.getMetadata().getName().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name));
    }

    @Test
    void everyChildIsOwnedByTheDeploymentAndLabelled() {
        MoEDeployment d = Specs.tiny();
        List<HasMetadata> all = children(d);
        assertEquals(8, all.size());
        for (HasMetadata child : all) {
            var ref = child.getMetadata().getOwnerReferences();
            assertEquals(1, ref.size(), child.getKind());
            assertEquals("uid-demo", ref.getFirst().getUid());
            assertEquals("MoEDeployment", ref.getFirst().getKind());
            assertTrue(ref.getFirst().getController());
            assertEquals("shuttle", child.getMetadata().getNamespace());
            assertEquals("shuttle-operator", child.getMetadata().getLabels().get("app.kubernetes.io/managed-by"));
        }
    }

    @Test
    void headlessServicesPublishNotReadyPodsAndClientServiceTargetsAttention() {
        List<HasMetadata> all = children(Specs.tiny());
        for (String name : List.of("demo-attention", "demo-experts")) {
            Service s = find(all, Service.class, name);
            assertEquals("None", s.getSpec().getClusterIP());
            assertTrue(s.getSpec().getPublishNotReadyAddresses());
        }
        assertEquals(7100, find(all, Service.class, "demo-attention").getSpec().getPorts().getFirst().getPort());
        assertEquals(7200, find(all, Service.class, "demo-experts").getSpec().getPorts().getFirst().getPort());
        Service client = find(all, Service.class, "demo");
        assertNull(client.getSpec().getClusterIP());
        assertEquals(Map.of("shuttle.io/deployment", "demo", "shuttle.io/role", "attention"), client.getSpec().getSelector());
        assertEquals(8000, client.getSpec().getPorts().getFirst().getPort());
    }

    @Test
    void statefulSetsCarryRoleEnvProbesAndRestrictedSecurity() {
        List<HasMetadata> all = children(Specs.tiny());
        for (Role role : Role.values()) {
            StatefulSet set = find(all, StatefulSet.class, "demo-" + role.suffix());
            assertEquals(2, set.getSpec().getReplicas());
            assertEquals("demo-" + role.suffix(), set.getSpec().getServiceName());
            assertEquals("Parallel", set.getSpec().getPodManagementPolicy());
            PodSpec pod = set.getSpec().getTemplate().getSpec();
            assertFalse(pod.getAutomountServiceAccountToken());
            assertTrue(pod.getSecurityContext().getRunAsNonRoot());
            Container c = pod.getContainers().getFirst();
            assertEquals(List.of("shuttle", "serve"), c.getCommand());
            Map<String, EnvVar> env = c.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
            assertEquals(role.serveRole(), env.get("SHUTTLE_ROLE").getValue());
            assertEquals("metadata.labels['apps.kubernetes.io/pod-index']",
                    env.get("SHUTTLE_ORDINAL").getValueFrom().getFieldRef().getFieldPath());
            assertEquals("/etc/shuttle/plan/plan.json", env.get("SHUTTLE_PLAN").getValue());
            assertEquals("/etc/shuttle/m2n/secret", env.get("SHUTTLE_M2N_SECRET_FILE").getValue());
            assertEquals("/model", env.get("SHUTTLE_MODEL").getValue());
            assertEquals("tcp", env.get("SHUTTLE_TRANSPORT").getValue());
            assertEquals("8000", env.get("SHUTTLE_HTTP_PORT").getValue());
            assertTrue(c.getSecurityContext().getReadOnlyRootFilesystem());
            assertFalse(c.getSecurityContext().getAllowPrivilegeEscalation());
            assertTrue(c.getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/tmp")));
            assertEquals("/q/health/ready", c.getReadinessProbe().getHttpGet().getPath());
            assertEquals("/q/health/live", c.getLivenessProbe().getHttpGet().getPath());
            assertEquals("/q/health/live", c.getStartupProbe().getHttpGet().getPath());
            assertEquals("FallbackToLogsOnError", c.getTerminationMessagePolicy());
            // builtin://tiny: the weights are made by an init container into the model volume
            Container init = pod.getInitContainers().getFirst();
            assertEquals(List.of("shuttle", "model", "init", "--preset", "tiny", "--seed", "0", "--out", "/model"),
                    init.getCommand());
            assertFalse(c.getResources().getLimits().containsKey("nvidia.com/gpu"), "CPU example asks for no GPUs");
            assertEquals("digest", set.getSpec().getTemplate().getMetadata().getAnnotations().get(Names.ANNOTATION_SECRET_HASH));
        }
        assertEquals(1, find(all, PodDisruptionBudget.class, "demo-experts").getSpec().getMaxUnavailable().getIntVal());
    }

    @Test
    void gpuRolesGetGpuLimitsAndTheirNodePool() {
        MoEDeployment d = Specs.mixtral();
        Topology t = resolver.resolve(d.getSpec());
        List<HasMetadata> all = DesiredState.children(d, t, "digest", Optional.empty());
        StatefulSet attention = find(all, StatefulSet.class, "mixtral-attention");
        StatefulSet experts = find(all, StatefulSet.class, "mixtral-experts");
        assertEquals(t.attention().pods(), attention.getSpec().getReplicas());
        assertEquals(t.experts().pods(), experts.getSpec().getReplicas());
        PodSpec a = attention.getSpec().getTemplate().getSpec();
        PodSpec e = experts.getSpec().getTemplate().getSpec();
        assertEquals(new Quantity(Integer.toString(t.attention().gpusPerPod())),
                a.getContainers().getFirst().getResources().getLimits().get("nvidia.com/gpu"));
        assertEquals("H20", a.getNodeSelector().get(Names.LABEL_GPU_TYPE));
        assertEquals("L40S", e.getNodeSelector().get(Names.LABEL_GPU_TYPE));
        assertEquals("nvidia.com/gpu", e.getTolerations().getFirst().getKey());
        assertTrue(a.getInitContainers().isEmpty(), "pvc:// needs no init container");
        assertEquals("models", a.getVolumes().getFirst().getPersistentVolumeClaim().getClaimName());
        assertEquals("/model/mistralai/Mixtral-8x22B-Instruct-v0.1",
                a.getContainers().getFirst().getEnv().stream().filter(v -> v.getName().equals("SHUTTLE_MODEL"))
                        .findFirst().orElseThrow().getValue());
    }

    @Test
    void changingTheExpertCountChangesPlacementAndRollsOnlyTheExpertPods() {
        MoEDeployment before = Specs.tiny();
        MoEDeployment after = Specs.tiny();
        after.setSpec(new io.shuttle.operator.api.MoEDeploymentSpec(before.getSpec().model(), before.getSpec().image(),
                before.getSpec().attention(), withReplicas(before.getSpec().experts(), 4), before.getSpec().pipeline(),
                before.getSpec().plan(), before.getSpec().placement(), before.getSpec().api(), before.getSpec().m2n(), before.getSpec().autoscaling()));
        ConfigMap cmBefore = find(children(before), ConfigMap.class, "demo-plan");
        ConfigMap cmAfter = find(children(after), ConfigMap.class, "demo-plan");
        assertEquals("[ [ 0, 2 ], [ 1, 3 ] ]\n", cmBefore.getData().get("placement.json"));
        assertEquals("[ [ 0 ], [ 1 ], [ 2 ], [ 3 ] ]\n", cmAfter.getData().get("placement.json"));
        for (Role role : Role.values()) {
            String h1 = find(children(before), StatefulSet.class, "demo-" + role.suffix()).getSpec().getTemplate()
                    .getMetadata().getAnnotations().get(Names.ANNOTATION_PLAN_HASH);
            String h2 = find(children(after), StatefulSet.class, "demo-" + role.suffix()).getSpec().getTemplate()
                    .getMetadata().getAnnotations().get(Names.ANNOTATION_PLAN_HASH);
            if (role == Role.EXPERTS) {
                assertNotEquals(h1, h2, "expert pods must restart to load their new experts");
            } else {
                assertEquals(h1, h2, "attention pods switch to the new expert pool without a restart");
            }
        }
    }

    static io.shuttle.operator.api.RoleSpec withReplicas(io.shuttle.operator.api.RoleSpec r, int replicas) {
        return new io.shuttle.operator.api.RoleSpec(replicas, r.gpusPerPod(), r.gpuType(), r.nodeSelector(), r.tolerations(),
                r.affinity(), r.resources(), r.env());
    }
}
