package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.PlacementSpec;
import io.shuttle.operator.api.PlanSpec;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TopologyResolverTest {
    private final TopologyResolver resolver = new TopologyResolver(new Planner()::plan);

    private static MoEDeploymentSpec with(MoEDeploymentSpec s, int experts, PlacementSpec placement, PlanSpec plan) {
        return new MoEDeploymentSpec(s.model(), s.image(), s.attention(), DesiredStateTest.withReplicas(s.experts(), experts),
                s.pipeline(), plan, placement, s.api(), s.m2n(), s.autoscaling());
    }

    @Test
    void manualPlanTakesTheSpecAndDefaults() {
        Topology t = resolver.resolve(Specs.tiny().getSpec());
        assertEquals(2, t.attention().pods());
        assertEquals(0, t.attention().gpusPerPod());
        assertEquals(2, t.pipeline().microBatches());
        assertTrue(t.planned().isEmpty());
    }

    @Test
    void autoPlanUsesThePlannerWithinTheGpuConstraints() {
        Topology t = resolver.resolve(Specs.mixtral().getSpec());
        var plan = t.planned().orElseThrow();
        assertEquals("H20", plan.attention().gpu());
        assertEquals("L40S", plan.experts().gpu());
        assertEquals(plan.attention().pods(), t.attention().pods());
        assertEquals(plan.experts().tp(), t.experts().gpusPerPod());
        assertEquals(plan.microBatches(), t.pipeline().microBatches());
        assertTrue(plan.tbtMs() <= 150.0, "SLO kept: " + plan.tbtMs());
        assertEquals(t.experts().pods(), t.placement().size());
    }

    @Test
    void anUnmeetableSloIsRejectedWithAReason() {
        MoEDeploymentSpec s = Specs.mixtral().getSpec();
        var e = assertThrows(InvalidSpecException.class, () -> resolver.resolve(with(s, 1, s.placement(),
                new PlanSpec(PlanSpec.Mode.AUTO, 0.1, null, null, null))));
        assertEquals("PlanInfeasible", e.reason());
    }

    @Test
    void anUnknownGpuTypeIsRejected() {
        MoEDeploymentSpec s = Specs.mixtral().getSpec();
        var bad = new MoEDeploymentSpec(s.model(), s.image(), new io.shuttle.operator.api.RoleSpec(null, null, "B300", null,
                null, null, null, null), s.experts(), s.pipeline(), s.plan(), s.placement(), s.api(), s.m2n(), s.autoscaling());
        var e = assertThrows(InvalidSpecException.class, () -> resolver.resolve(bad));
        assertEquals("UnknownGpuType", e.reason());
        assertTrue(e.getMessage().contains("B300") && e.getMessage().contains("plan.gpuCatalog"), e.getMessage());
    }

    @Test
    void moreExpertPodsThanExpertCopiesIsRejected() {
        MoEDeploymentSpec s = Specs.tiny().getSpec();
        var e = assertThrows(InvalidSpecException.class,
                () -> resolver.resolve(with(s, 5, new PlacementSpec(new IntOrString(1), null), s.plan())));
        assertEquals("InvalidPlacement", e.reason());
        // auto copies: 5 pods over 4 experts needs 2 copies of each
        Topology t = resolver.resolve(with(s, 5, null, s.plan()));
        assertEquals(5, t.placement().size());
        assertEquals(8, t.placement().stream().mapToInt(List::size).sum());
    }

    @Test
    void explicitPlacementIsCheckedAgainstTheModel() {
        MoEDeploymentSpec s = Specs.tiny().getSpec();
        var e = assertThrows(InvalidSpecException.class, () -> resolver.resolve(with(s, 2,
                new PlacementSpec(null, List.of(List.of(0, 1), List.of(1, 7))), s.plan())));
        assertEquals("InvalidPlacement", e.reason());
        assertTrue(e.getMessage().contains("expert 7") && e.getMessage().contains("{2, 3}"), e.getMessage());
    }

    @Test
    void balancedPlacementSpreadsCopiesEvenlyWithoutDuplicates() {
        for (int experts = 2; experts <= 8; experts++) {
            for (int pods = 1; pods <= 12; pods++) {
                int copies = Placement.autoCopies(experts, pods);
                if (copies > pods) {
                    continue;
                }
                List<List<Integer>> p = Placement.balanced(experts, pods, copies);
                Placement.checked(p, experts, pods);
                int min = p.stream().mapToInt(List::size).min().orElseThrow();
                int max = p.stream().mapToInt(List::size).max().orElseThrow();
                assertTrue(max - min <= 1, experts + " experts on " + pods + " pods: " + p);
            }
        }
    }
}
