package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.shuttle.operator.api.M2nSpec;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.PipelineSpec;
import io.shuttle.operator.api.RoleSpec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The pod template of a role. The serving container runs {@code shuttle serve} and takes every
 * setting from the {@code SHUTTLE_*} environment variables that {@code ServeCommand} reads; peers,
 * placement and limits come from the mounted plan file.
 */
public final class PodTemplates {
    /** The image's launcher, on its PATH. */
    public static final String LAUNCHER = "shuttle";
    public static final String CONTAINER = "shuttle";
    public static final String GPU_RESOURCE = "nvidia.com/gpu";
    public static final String PLAN_DIR = "/etc/shuttle/plan";
    public static final String SECRET_DIR = "/etc/shuttle/m2n";
    /** The serving pod's health checks: alive while loading; ready once loaded and a round with every peer worked. */
    public static final String LIVENESS_PATH = "/q/health/live";
    public static final String READINESS_PATH = "/q/health/ready";
    public static final String API_KEY_DIR = "/etc/shuttle/api-key";
    /**
     * Seconds a stopping pod waits before it gets SIGTERM, so that the endpoints controller has
     * taken it out of the client Service and no new request is sent to a pod that no longer admits.
     */
    public static final int PRE_STOP_SECONDS = 5;
    /** Grace beyond the drain: the pre-stop wait, the JVM's shutdown and the last writes. */
    public static final int GRACE_BEYOND_DRAIN_SECONDS = 10;
    /** StatefulSet pods carry their ordinal in this label (Kubernetes ≥ 1.28). */
    static final String POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";

    private PodTemplates() {
    }

    /**
     * @param owner       the deployment
     * @param topology    the resolved layout
     * @param role        which pool
     * @param hashes      annotations that change the template when the plan or secret changes
     * @param hfImage     downloader image for hf:// models
     */
    public static PodTemplateSpec template(MoEDeployment owner, Topology topology, Role role, Map<String, String> hashes,
                                           Optional<String> hfImage) {
        MoEDeploymentSpec spec = owner.getSpec();
        String name = owner.getMetadata().getName();
        RoleSpec roleSpec = role == Role.ATTENTION ? spec.attention() : spec.experts();
        Topology.RoleLayout layout = topology.layout(role);
        ModelSource source = topology.model().source();
        PodSecurity security = new PodSecurity();
        Ports ports = Ports.of(spec);

        List<Container> init = ModelVolume.initContainer(spec.model(), source, spec.image(), hfImage, security)
                .map(List::of).orElse(List.of());
        Container serve = new ContainerBuilder()
                .withName(CONTAINER)
                .withImage(spec.image())
                .withCommand(LAUNCHER, "serve")
                .withEnv(env(spec, role, roleSpec, source, ports))
                .addNewPort().withName("http").withContainerPort(ports.http()).withProtocol("TCP").endPort()
                .addNewPort().withName("m2n").withContainerPort(ports.m2n(role)).withProtocol("TCP").endPort()
                .withResources(resources(roleSpec.resources(), layout.gpusPerPod()))
                .withVolumeMounts(ModelVolume.mount(true),
                        new VolumeMountBuilder().withName("plan").withMountPath(PLAN_DIR).withReadOnly(true).build(),
                        new VolumeMountBuilder().withName("m2n-secret").withMountPath(SECRET_DIR).withReadOnly(true).build(),
                        tmpMount())
                .addAllToVolumeMounts(apiKeyMount(spec, role))
                .withStartupProbe(startupProbe())
                .withLivenessProbe(livenessProbe())
                .withReadinessProbe(readinessProbe())
                .withSecurityContext(security.container())
                // The last log lines become the termination message: the operator reports a
                // crash loop with its cause without needing pods/log access.
                .withTerminationMessagePolicy("FallbackToLogsOnError")
                // Scale-in and rollouts drain: the pre-stop wait lets the pod leave the Service,
                // then SIGTERM stops admission and the runtime finishes running requests for up to
                // SHUTTLE_DRAIN_SECONDS (the sleep action needs Kubernetes ≥ 1.30).
                .withNewLifecycle().withNewPreStop().withNewSleep().withSeconds((long) PRE_STOP_SECONDS).endSleep()
                .endPreStop().endLifecycle()
                .build();

        return new PodTemplateSpecBuilder()
                .withNewMetadata().withLabels(Names.roleLabels(name, role)).withAnnotations(hashes).endMetadata()
                .withNewSpec()
                .withAutomountServiceAccountToken(false)
                .withEnableServiceLinks(false)
                .withSecurityContext(security.pod())
                .withTerminationGracePeriodSeconds((long) drainSeconds(spec) + GRACE_BEYOND_DRAIN_SECONDS)
                .withNodeSelector(nodeSelector(roleSpec, layout))
                .withTolerations(roleSpec.tolerations() == null ? List.of() : roleSpec.tolerations())
                .withAffinity(roleSpec.affinity())
                .withInitContainers(init)
                .withContainers(serve)
                .withVolumes(volumes(name, source))
                .addAllToVolumes(apiKeyVolume(spec, role))
                .endSpec()
                .build();
    }

    private static List<EnvVar> env(MoEDeploymentSpec spec, Role role, RoleSpec roleSpec, ModelSource source, Ports ports) {
        List<EnvVar> env = new ArrayList<>();
        env.add(value("SHUTTLE_ROLE", role.serveRole()));
        env.add(new EnvVarBuilder().withName("SHUTTLE_ORDINAL").withNewValueFrom().withNewFieldRef()
                .withFieldPath("metadata.labels['" + POD_INDEX_LABEL + "']").endFieldRef().endValueFrom().build());
        env.add(value("SHUTTLE_MODEL", ModelVolume.modelDir(source)));
        env.add(value("SHUTTLE_PLAN", PLAN_DIR + "/" + ConfigManifests.PLAN_KEY));
        env.add(value("SHUTTLE_M2N_SECRET_FILE", SECRET_DIR + "/" + ConfigManifests.SECRET_KEY));
        env.add(value("SHUTTLE_HTTP_PORT", Integer.toString(ports.http())));
        env.add(value("SHUTTLE_BIND_HOST", "0.0.0.0"));
        M2nSpec.Transport transport = spec.m2n() == null || spec.m2n().transport() == null
                ? M2nSpec.Transport.AUTO : spec.m2n().transport();
        env.add(value("SHUTTLE_TRANSPORT", transport.name().toLowerCase(Locale.ROOT)));
        env.add(value("SHUTTLE_DRAIN_SECONDS", Integer.toString(drainSeconds(spec))));
        if (role == Role.ATTENTION && spec.api() != null && spec.api().apiKeySecret() != null) {
            env.add(value("SHUTTLE_API_KEY_FILE", API_KEY_DIR + "/" + spec.api().apiKeySecret().key()));
        }
        env.addAll(writableHome());
        if (roleSpec.env() != null) {
            env.addAll(roleSpec.env());
        }
        return env;
    }

    /** {@code pipeline.drainSeconds}, default {@value PipelineSpec#DEFAULT_DRAIN_SECONDS}. */
    public static int drainSeconds(MoEDeploymentSpec spec) {
        return spec.pipeline() == null ? PipelineSpec.DEFAULT_DRAIN_SECONDS : spec.pipeline().drainSecondsOrDefault();
    }

    /** The root filesystem is read-only: HOME, the JVM's temp files and DJL's native cache go to /tmp. */
    static List<EnvVar> writableHome() {
        return List.of(value("HOME", "/tmp"), value("DJL_CACHE_DIR", "/tmp/djl"));
    }

    static VolumeMount tmpMount() {
        return new VolumeMountBuilder().withName("tmp").withMountPath("/tmp").build();
    }

    private static EnvVar value(String name, String value) {
        return new EnvVarBuilder().withName(name).withValue(value).build();
    }

    private static ResourceRequirements resources(ResourceRequirements user, int gpus) {
        Map<String, Quantity> limits = new LinkedHashMap<>();
        Map<String, Quantity> requests = new LinkedHashMap<>();
        if (user != null) {
            if (user.getLimits() != null) {
                limits.putAll(user.getLimits());
            }
            if (user.getRequests() != null) {
                requests.putAll(user.getRequests());
            }
        }
        if (gpus > 0) {
            limits.put(GPU_RESOURCE, new Quantity(Integer.toString(gpus)));
            requests.remove(GPU_RESOURCE);
        } else {
            limits.remove(GPU_RESOURCE);
            requests.remove(GPU_RESOURCE);
        }
        return new ResourceRequirementsBuilder().withLimits(limits).withRequests(requests).build();
    }

    private static Map<String, String> nodeSelector(RoleSpec role, Topology.RoleLayout layout) {
        Map<String, String> selector = new LinkedHashMap<>();
        if (role.nodeSelector() != null) {
            selector.putAll(role.nodeSelector());
        }
        if (layout.gpusPerPod() > 0) {
            layout.gpuType().ifPresent(gpu -> selector.putIfAbsent(Names.LABEL_GPU_TYPE, gpu));
        }
        return selector;
    }

    private static List<VolumeMount> apiKeyMount(MoEDeploymentSpec spec, Role role) {
        return apiKey(spec, role) ? List.of(new VolumeMountBuilder().withName("api-key").withMountPath(API_KEY_DIR)
                .withReadOnly(true).build()) : List.of();
    }

    private static List<Volume> apiKeyVolume(MoEDeploymentSpec spec, Role role) {
        return apiKey(spec, role) ? List.of(new VolumeBuilder().withName("api-key").withNewSecret()
                .withSecretName(spec.api().apiKeySecret().name()).withDefaultMode(0400).endSecret().build()) : List.of();
    }

    private static boolean apiKey(MoEDeploymentSpec spec, Role role) {
        return role == Role.ATTENTION && spec.api() != null && spec.api().apiKeySecret() != null;
    }

    private static List<Volume> volumes(String name, ModelSource source) {
        return List.of(
                ModelVolume.volume(source),
                new VolumeBuilder().withName("plan").withNewConfigMap().withName(Names.configMap(name)).endConfigMap().build(),
                new VolumeBuilder().withName("m2n-secret").withNewSecret().withSecretName(Names.secret(name))
                        .withDefaultMode(0400).endSecret().build(),
                new VolumeBuilder().withName("tmp").withNewEmptyDir().endEmptyDir().build());
    }

    /** JVM start plus a slow first answer must not count as dead: up to 10 minutes to come up. */
    private static Probe startupProbe() {
        return new ProbeBuilder().withNewHttpGet().withPath(LIVENESS_PATH).withPort(new IntOrString("http")).endHttpGet()
                .withPeriodSeconds(10).withFailureThreshold(60).build();
    }

    /** Loading the model counts as alive; a dead engine loop or expert server does not. */
    private static Probe livenessProbe() {
        return new ProbeBuilder().withNewHttpGet().withPath(LIVENESS_PATH).withPort(new IntOrString("http")).endHttpGet()
                .withPeriodSeconds(10).withFailureThreshold(6).build();
    }

    private static Probe readinessProbe() {
        return new ProbeBuilder().withNewHttpGet().withPath(READINESS_PATH).withPort(new IntOrString("http")).endHttpGet()
                .withPeriodSeconds(5).withFailureThreshold(3).build();
    }
}
