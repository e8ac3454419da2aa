package io.shuttle.operator;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.shuttle.operator.api.MoEDeployment;

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
}
