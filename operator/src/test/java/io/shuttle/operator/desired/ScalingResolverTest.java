package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.AutoscalingSpec;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.PlacementSpec;
import io.shuttle.operator.api.RatioBandSpec;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pools' sizes and the autoscalers' bounds: the ratio band, leader and follower, live counts. */
class ScalingResolverTest {
    private static final String WAITING = "shuttle_requests_waiting";
    private static final String TOKENS = AutoscalerManifests.EXPERT_TOKENS_PER_SECOND;
    private final TopologyResolver resolver = new TopologyResolver(new Planner()::plan);

    /** tiny (2 attention, 2 expert pods, 4 experts) with the given autoscaling. */
    private ScalingPlan tiny(AutoscalingSpec as, OptionalInt liveA, OptionalInt liveE) {
        MoEDeployment d = Specs.withAutoscaling(Specs.tiny(), as);
        return ScalingResolver.resolve(d.getSpec(), resolver.resolve(d.getSpec()), liveA, liveE);
    }

    private static final OptionalInt NONE = OptionalInt.empty();

    @Test
    void withoutAutoscalingBothPoolsKeepThePlannedCounts() {
        ScalingPlan p = tiny(null, OptionalInt.of(7), OptionalInt.of(9));
        assertFalse(p.anyAutoscaled());
        assertEquals(2, p.attention().replicas(), "the live count is not taken without an autoscaler");
        assertEquals(2, p.experts().replicas());
    }

    @Test
    void theDefaultManualBandIsHalfToTwiceTheSpecRatio() {
        ScalingPlan p = tiny(new AutoscalingSpec(Specs.hpa(1, 8, WAITING, "4"), null, null), NONE, NONE);
        assertEquals(new RatioBand(0.5, 2.0), p.band());
        // experts fixed at 2: attention may go from ceil(2·0.5) = 1 to floor(2·2) = 4 pods
        assertEquals(1, p.attention().minReplicas());
        assertEquals(4, p.attention().maxReplicas());
        assertEquals(2, p.attention().replicas(), "initial: the planned 2, inside the bounds");
    }

    @Test
    void explicitRatioBoundsReplaceTheDefaultOnes() {
        ScalingPlan p = tiny(new AutoscalingSpec(Specs.hpa(1, 8, WAITING, "4"), null, new RatioBandSpec(1.5, null)), NONE, NONE);
        assertEquals(new RatioBand(1.5, 2.0), p.band());
        assertEquals(3, p.attention().minReplicas());
        assertEquals(3, p.attention().replicas(), "the planned 2 is below the band: starts at 3");
        p = tiny(new AutoscalingSpec(Specs.hpa(1, 8, WAITING, "4"), null, new RatioBandSpec(null, 0.25)), NONE, NONE);
        assertEquals(new RatioBand(0.25, 0.25), p.band(), "a max below the default min pulls the min down");
    }

    @Test
    void expertsFollowTheLiveAttentionPodsWhileAttentionLeadsWithStaticBounds() {
        AutoscalingSpec as = new AutoscalingSpec(Specs.hpa(1, 20, WAITING, "4"), Specs.hpa(2, 6, TOKENS, "2000"),
                new RatioBandSpec(0.5, 1.0));
        // attention: user 1..20, narrowed to what 2..6 experts can follow: ceil(2·0.5)=1 .. floor(6·1)=6
        ScalingPlan p = tiny(as, OptionalInt.of(5), OptionalInt.of(2));
        assertEquals(List.of(1, 6), List.of(p.attention().minReplicas(), p.attention().maxReplicas()));
        assertEquals(5, p.attention().replicas(), "the live count is in force");
        // experts: ceil(5/1)=5 .. min(6, floor(5/0.5)=10)
        assertEquals(List.of(5, 6), List.of(p.experts().minReplicas(), p.experts().maxReplicas()));
        assertEquals(2, p.experts().replicas(), "the live expert count is in force even below the bounds: the HPA moves it");
        assertTrue(p.note().isEmpty());
        // attention scaled in to 2: the experts' bounds come down with it
        p = tiny(as, OptionalInt.of(2), OptionalInt.of(5));
        assertEquals(List.of(2, 4), List.of(p.experts().minReplicas(), p.experts().maxReplicas()));
    }

    @Test
    void whenTheBandAndTheUsersBoundsCannotBothHoldTheUsersBoundsWin() {
        AutoscalingSpec as = new AutoscalingSpec(Specs.hpa(1, 20, WAITING, "4"), Specs.hpa(1, 3, TOKENS, "2000"),
                new RatioBandSpec(1.0, 1.0));
        ScalingPlan p = tiny(as, OptionalInt.of(3), NONE);
        assertEquals(List.of(1, 3), List.of(p.attention().minReplicas(), p.attention().maxReplicas()));
        // a live attention count of 8 (set by hand, above the HPA's max) needs 8 experts; at most 3 are allowed
        p = tiny(as, OptionalInt.of(8), OptionalInt.of(2));
        assertEquals(List.of(3, 3), List.of(p.experts().minReplicas(), p.experts().maxReplicas()));
        assertTrue(p.note().orElseThrow().contains("8..8 experts pods"), p.note().orElseThrow());
    }

    @Test
    void aFixedReplicasPerExpertLimitsTheExpertPodsAndAnExplicitPlacementIsRefused() {
        MoEDeployment d = Specs.withAutoscaling(Specs.tiny(), new AutoscalingSpec(null, Specs.hpa(1, 10, TOKENS, "2000"),
                new RatioBandSpec(0.1, 10.0)));
        MoEDeploymentSpec s = d.getSpec();
        MoEDeploymentSpec copies = new MoEDeploymentSpec(s.model(), s.image(), s.attention(), s.experts(), s.pipeline(),
                s.plan(), new PlacementSpec(new IntOrString(2), null), s.api(), s.m2n(), s.autoscaling());
        ScalingPlan p = ScalingResolver.resolve(copies, resolver.resolve(copies), NONE, NONE);
        // 4 experts × 2 copies: 2..8 pods
        assertEquals(List.of(2, 8), List.of(p.experts().minReplicas(), p.experts().maxReplicas()));
        MoEDeploymentSpec explicit = new MoEDeploymentSpec(s.model(), s.image(), s.attention(), s.experts(), s.pipeline(),
                s.plan(), new PlacementSpec(null, List.of(List.of(0, 1), List.of(2, 3))), s.api(), s.m2n(), s.autoscaling());
        var e = assertThrows(InvalidSpecException.class,
                () -> ScalingResolver.resolve(explicit, resolver.resolve(explicit), NONE, NONE));
        assertEquals("InvalidAutoscaling", e.reason());
    }

    @Test
    void aLiveExpertCountIsPlacedAgain() {
        MoEDeployment d = Specs.withAutoscaling(Specs.tiny(), new AutoscalingSpec(null, Specs.hpa(1, 8, TOKENS, "2000"), null));
        Topology t = resolver.resolve(d.getSpec());
        ScalingPlan p = ScalingResolver.resolve(d.getSpec(), t, NONE, OptionalInt.of(3));
        Topology live = TopologyResolver.resized(t, d.getSpec().placement(), p.attention().replicas(), p.experts().replicas());
        assertEquals(3, live.experts().pods());
        assertEquals(List.of(List.of(0, 3), List.of(1), List.of(2)), live.placement());
    }

    @Test
    void thePlannersBalanceWidensTheDefaultBand() {
        MoEDeployment d = Specs.mixtral();
        Topology t = TopologyResolver.withEstimates(new Planner()::search).resolve(d.getSpec());
        double balance = t.balanceAttentionPods().orElseThrow();
        double r0 = (double) t.attention().pods() / t.experts().pods();
        double rb = balance / t.experts().pods();
        RatioBand band = ScalingResolver.band(null, t);
        assertEquals(Math.min(r0, rb) / 2, band.min(), 1e-12);
        assertEquals(Math.max(r0, rb) * 2, band.max(), 1e-12);
        // a topology without the planner's estimate: the band is around the plan's ratio only
        Topology plain = new Topology(t.model(), t.attention(), t.experts(), t.pipeline(), t.placement(), t.planned(),
                OptionalDouble.empty());
        assertEquals(new RatioBand(r0 / 2, r0 * 2), ScalingResolver.band(null, plain));
    }
}
