package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.shuttle.operator.api.ModelSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * How the checkpoint reaches the pod: a PVC mounted read-only, or an emptyDir filled by an init
 * container ({@code shuttle model init} for builtin models, a Hugging Face download for hf://).
 */
final class ModelVolume {
    static final String VOLUME = "model";
    static final String MOUNT = "/model";

    private ModelVolume() {
    }

    static Volume volume(ModelSource source) {
        VolumeBuilder v = new VolumeBuilder().withName(VOLUME);
        if (source instanceof ModelSource.Pvc pvc) {
            return v.withNewPersistentVolumeClaim().withClaimName(pvc.claim()).withReadOnly(true).endPersistentVolumeClaim().build();
        }
        return v.withNewEmptyDir().endEmptyDir().build();
    }

    static VolumeMount mount(boolean readOnly) {
        return new VolumeMountBuilder().withName(VOLUME).withMountPath(MOUNT).withReadOnly(readOnly).build();
    }

    /** SHUTTLE_MODEL: the checkpoint folder inside the pod. */
    static String modelDir(ModelSource source) {
        if (source instanceof ModelSource.Pvc pvc) {
            String path = pvc.path().replaceAll("^/+|/+$", "");
            return path.isEmpty() ? MOUNT : MOUNT + "/" + path;
        }
        return MOUNT;
    }

    /** The init container that fills the model volume, if the source needs one. */
    static Optional<Container> initContainer(ModelSpec spec, ModelSource source, String image, Optional<String> hfImage,
                                             PodSecurity security) {
        return switch (source) {
            case ModelSource.Pvc pvc -> Optional.empty();
            case ModelSource.Builtin b -> Optional.of(base("model-init", image, security)
                    .withCommand(PodTemplates.LAUNCHER, "model", "init", "--preset", b.preset(), "--seed", "0", "--out", MOUNT)
                    .withEnv(PodTemplates.writableHome())
                    .build());
            case ModelSource.HuggingFace hf -> {
                String downloader = hfImage.orElseThrow(() -> new InvalidSpecException("NoDownloaderImage",
                        "hf:// models need a downloader image: set shuttle.operator.hf-downloader-image (an image with "
                                + "huggingface-cli), or put the model on a PVC and use pvc://"));
                List<EnvVar> env = new ArrayList<>(PodTemplates.writableHome());
                env.add(new EnvVarBuilder().withName("HF_HOME").withValue("/tmp/hf").build());
                if (spec.tokenSecret() != null) {
                    env.add(new EnvVarBuilder().withName("HF_TOKEN").withNewValueFrom().withNewSecretKeyRef()
                            .withName(spec.tokenSecret().name()).withKey(spec.tokenSecret().key()).endSecretKeyRef()
                            .endValueFrom().build());
                }
                yield Optional.of(base("model-download", downloader, security)
                        .withCommand("huggingface-cli", "download", hf.repository(), "--revision",
                                spec.revision() == null ? "main" : spec.revision(), "--local-dir", MOUNT)
                        .withEnv(env)
                        .build());
            }
        };
    }

    private static ContainerBuilder base(String name, String image, PodSecurity security) {
        return new ContainerBuilder()
                .withName(name)
                .withImage(image)
                .withSecurityContext(security.container())
                .withTerminationMessagePolicy("FallbackToLogsOnError")
                .withVolumeMounts(mount(false), PodTemplates.tmpMount());
    }
}
