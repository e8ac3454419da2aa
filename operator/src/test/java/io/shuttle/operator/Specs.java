package io.shuttle.operator;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.shuttle.operator.api.AutoscalingSpec;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.RoleAutoscalingSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test resources: the committed examples and small variations of them. */
public final class Specs {
    private Specs() {
    }

    /** A resource from crds/examples/, with a fixed uid so owner references can be compared. */
    public static MoEDeployment example(String file, String namespace) {
        Path path = Path.of(System.getProperty("shuttle.crds.dir", "../crds"), "examples", file);
        try {
            MoEDeployment d = Serialization.unmarshal(Files.readString(path), MoEDeployment.class);
            d.setMetadata(new ObjectMetaBuilder(d.getMetadata()).withNamespace(namespace)
                    .withUid("uid-" + d.getMetadata().getName()).withGeneration(1L).build());
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read example " + path, e);
        }
    }

    /** The tiny CPU example: 2 attention pods, 2 expert pods, builtin://tiny. */
    public static MoEDeployment tiny() {
        return example("tiny-cpu.yaml", "shuttle");
    }

    public static MoEDeployment mixtral() {
        return example("mixtral-8x22b-h20-l40s.yaml", "serving");
    }

    /** The deployment with {@code spec.autoscaling} replaced. */
    public static MoEDeployment withAutoscaling(MoEDeployment d, AutoscalingSpec autoscaling) {
        MoEDeploymentSpec s = d.getSpec();
        d.setSpec(new MoEDeploymentSpec(s.model(), s.image(), s.attention(), s.experts(), s.pipeline(), s.plan(),
                s.placement(), s.api(), s.m2n(), autoscaling));
        return d;
    }

    /** An enabled HPA autoscaler on {@code metric} with target {@code target}. */
    public static RoleAutoscalingSpec hpa(int min, int max, String metric, String target) {
        return new RoleAutoscalingSpec(true, min, max, RoleAutoscalingSpec.Provider.HPA, metric, target, null, null);
    }

    /** An enabled KEDA autoscaler querying the Prometheus at {@code server}. */
    public static RoleAutoscalingSpec keda(int min, int max, String metric, String target, String server) {
        return new RoleAutoscalingSpec(true, min, max, RoleAutoscalingSpec.Provider.KEDA, metric, target, server, null);
    }
}
