package io.shuttle.operator.desired;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.PipelineSpec;
import io.shuttle.operator.api.PlacementSpec;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.Test;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which plan changes restart which pool: each pod template's plan hash covers only what its pods
 * cannot pick up from the re-read plan file. Pure functions of the spec, no cluster.
 */
class PlanHashesTest {
    private final TopologyResolver resolver = new TopologyResolver(new Planner()::plan);

    private List<HasMetadata> children(MoEDeployment d) {
        return DesiredState.children(d, resolver.resolve(d.getSpec()), "digest", Optional.empty());
    }

    private static <T extends HasMetadata> T find(List<HasMetadata> all, Class<T> type, String name) {
        return all.stream().filter(type::isInstance).map(type::cast).filter(r -> r.getMetadata().getName().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name));
    }

    /** Each role's pod-template annotation, as its StatefulSet carries it. */
    private Map<Role, String> annotation(MoEDeployment d, String key) {
        List<HasMetadata> all = children(d);
        Map<Role, String> out = new EnumMap<>(Role.class);
        for (Role role : Role.values()) {
            out.put(role, find(all, StatefulSet.class, "demo-" + role.suffix()).getSpec().getTemplate().getMetadata()
                    .getAnnotations().get(key));
        }
        return out;
    }

    private Map<Role, String> planHashes(MoEDeployment d) {
        return annotation(d, Names.ANNOTATION_PLAN_HASH);
    }

    private String planJson(MoEDeployment d) {
        return find(children(d), ConfigMap.class, "demo-plan").getData().get(ConfigManifests.PLAN_KEY);
    }

    /** The tiny example (manual plan, 2 + 2 pods) with its spec edited. */
    private static MoEDeployment tiny(UnaryOperator<MoEDeploymentSpec> edit) {
        MoEDeployment d = Specs.tiny();
        d.setSpec(edit.apply(d.getSpec()));
        return d;
    }

    private static MoEDeployment withPipeline(PipelineSpec p) {
        return tiny(s -> new MoEDeploymentSpec(s.model(), s.image(), s.attention(), s.experts(), p, s.plan(),
                s.placement(), s.api(), s.m2n(), s.autoscaling()));
    }

    @Test
    void scalingAttentionChangesThePlanButNeitherPlanHash() throws Exception {
        MoEDeployment before = Specs.tiny();
        MoEDeployment after = tiny(s -> new MoEDeploymentSpec(s.model(), s.image(),
                DesiredStateTest.withReplicas(s.attention(), 3), s.experts(), s.pipeline(), s.plan(), s.placement(), s.api(),
                s.m2n(), s.autoscaling()));
        assertEquals(3, new ObjectMapper().readTree(planJson(after)).path("attention").path("replicas").asInt(),
                "the plan file lists the new attention pods");
        Map<Role, String> h1 = planHashes(before);
        Map<Role, String> h2 = planHashes(after);
        assertEquals(h1.get(Role.ATTENTION), h2.get(Role.ATTENTION), "attention pods read the attention pool live");
        assertEquals(h1.get(Role.EXPERTS), h2.get(Role.EXPERTS), "expert pods accept attention pods that come and go");
    }

    @Test
    void scalingExpertsRollsOnlyTheExpertPods() {
        MoEDeployment after = tiny(s -> new MoEDeploymentSpec(s.model(), s.image(), s.attention(),
                DesiredStateTest.withReplicas(s.experts(), 4), s.pipeline(), s.plan(), s.placement(), s.api(), s.m2n(),
                s.autoscaling()));
        Map<Role, String> h1 = planHashes(Specs.tiny());
        Map<Role, String> h2 = planHashes(after);
        assertEquals(h1.get(Role.ATTENTION), h2.get(Role.ATTENTION), "attention pods switch to the new expert pool live");
        assertNotEquals(h1.get(Role.EXPERTS), h2.get(Role.EXPERTS), "expert pods load their experts at start");
    }

    @Test
    void aNewPlacementOnTheSameExpertPodsRollsOnlyTheExpertPods() {
        MoEDeployment after = tiny(s -> new MoEDeploymentSpec(s.model(), s.image(), s.attention(), s.experts(),
                s.pipeline(), s.plan(), new PlacementSpec(null, List.of(List.of(0, 1), List.of(2, 3))), s.api(), s.m2n(),
                s.autoscaling()));
        assertNotEquals(planJson(Specs.tiny()), planJson(after));
        Map<Role, String> h1 = planHashes(Specs.tiny());
        Map<Role, String> h2 = planHashes(after);
        assertEquals(h1.get(Role.ATTENTION), h2.get(Role.ATTENTION));
        assertNotEquals(h1.get(Role.EXPERTS), h2.get(Role.EXPERTS), "an expert pod's experts come from the placement");
    }

    @Test
    void aPipelineLimitRollsBothPools() {
        Map<Role, String> base = planHashes(Specs.tiny());
        PipelineSpec microBatches = new PipelineSpec(new IntOrString(4), null, null, null, null, null, null, null, null);
        PipelineSpec maxBatchTokens = new PipelineSpec(null, 256, null, null, null, null, null, null, null);
        for (PipelineSpec p : List.of(microBatches, maxBatchTokens)) {
            Map<Role, String> changed = planHashes(withPipeline(p));
            for (Role role : Role.values()) {
                assertNotEquals(base.get(role), changed.get(role), role + " pods size their pipeline at start: " + p);
            }
        }
    }

    @Test
    void bothTemplatesKeepTheSecretDigest() {
        assertEquals(Map.of(Role.ATTENTION, "digest", Role.EXPERTS, "digest"),
                annotation(Specs.tiny(), Names.ANNOTATION_SECRET_HASH));
    }

    @Test
    void eachHashCoversExactlyItsRolesStartOnlyParts() {
        Topology t = resolver.resolve(Specs.tiny().getSpec());
        ObjectNode plan = ServingPlanJson.tree("demo", "shuttle", t, 7100, 7200);
        Map<Role, String> base = new EnumMap<>(Role.class);
        for (Role role : Role.values()) {
            base.put(role, PlanHashes.of(plan, role));
        }
        assertNotEquals(base.get(Role.ATTENTION), base.get(Role.EXPERTS));

        record Edit(String what, UnaryOperator<ObjectNode> edit, boolean attention, boolean experts) {
        }
        List<Edit> edits = List.of(
                new Edit("attention.replicas", p -> put(p, "attention", "replicas", 7), false, false),
                new Edit("attention.addressPattern", p -> put(p, "attention", "addressPattern", "x-{ordinal}:1"), false, false),
                new Edit("apiVersion", p -> p.put("apiVersion", "shuttle.io/v9"), false, false),
                new Edit("experts.replicas", p -> put(p, "experts", "replicas", 3), false, true),
                new Edit("experts.addressPattern", p -> put(p, "experts", "addressPattern", "y-{ordinal}:2"), false, true),
                new Edit("experts.placement", p -> {
                    ((ObjectNode) p.get("experts")).putArray("placement").addArray().add(0).add(1).add(2).add(3);
                    return p;
                }, false, true),
                new Edit("deployment", p -> p.put("deployment", "other"), true, true),
                new Edit("pipeline.kvBlocks", p -> put(p, "pipeline", "kvBlocks", 99), true, true),
                new Edit("pipeline.roundTimeoutMillis", p -> put(p, "pipeline", "roundTimeoutMillis", 99), true, true));
        for (Edit e : edits) {
            ObjectNode edited = e.edit().apply(plan.deepCopy());
            assertEquals(e.attention(), !base.get(Role.ATTENTION).equals(PlanHashes.of(edited, Role.ATTENTION)),
                    e.what() + " restarts attention pods?");
            assertEquals(e.experts(), !base.get(Role.EXPERTS).equals(PlanHashes.of(edited, Role.EXPERTS)),
                    e.what() + " restarts expert pods?");
        }
    }

    private static ObjectNode put(ObjectNode plan, String part, String field, Object value) {
        ObjectNode node = (ObjectNode) plan.get(part);
        if (value instanceof Integer i) {
            node.put(field, i);
        } else {
            node.put(field, (String) value);
        }
        return plan;
    }

    /**
     * The digested text is pinned: an operator release that wrote the same parts differently would
     * restart every pod of every deployment it adopts.
     */
    @Test
    void theAttentionHashIsTheDigestOfDeploymentAndPipelineAsThePlanFileWritesThem() {
        ObjectNode plan = ServingPlanJson.tree("demo", "shuttle", resolver.resolve(Specs.tiny().getSpec()), 7100, 7200);
        String canonical = """
                {
                  "deployment" : "demo",
                  "pipeline" : {
                    "microBatches" : 2,
                    "maxBatchTokens" : 512,
                    "maxRunning" : 64,
                    "maxWaiting" : 256,
                    "maxModelLen" : 2048,
                    "kvBlocks" : 1024,
                    "kvBlockSize" : 16,
                    "roundTimeoutMillis" : 5000
                  }
                }
                """;
        assertEquals(ConfigManifests.sha256(canonical).substring(0, 16), PlanHashes.of(plan, Role.ATTENTION));
    }

    @Test
    void aPlanWithoutAHashedPartIsRefusedNamingIt() {
        ObjectNode plan = ServingPlanJson.tree("demo", "shuttle", resolver.resolve(Specs.tiny().getSpec()), 7100, 7200);
        plan.remove("experts");
        assertEquals(16, PlanHashes.of(plan, Role.ATTENTION).length(), "attention pods do not hash the experts part");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PlanHashes.of(plan, Role.EXPERTS));
        assertTrue(e.getMessage().contains("'experts'") && e.getMessage().contains("expert"), e.getMessage());
    }
}
