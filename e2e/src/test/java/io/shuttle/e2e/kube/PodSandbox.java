package io.shuttle.e2e.kube;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarSource;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One pod's local filesystem and the translation of its containers into local processes.
 *
 * <p>Volumes become folders under {@code <pod dir>/volumes/<name>}: ConfigMaps and Secrets are
 * written out as files (a ConfigMap file holding a serving plan gets its DNS names rewritten by
 * {@link PlanAddresses}), emptyDirs are empty folders. Other volume types are refused with a
 * message naming the pod and volume.
 *
 * <p>A container becomes a command line and an environment:
 * <ul>
 *   <li>command {@code shuttle ...} (the image's launcher) runs as {@code java <the image's JVM
 *       flags> -XX:MaxRAM=<memory limit> -Djava.io.tmpdir=<the /tmp volume> -jar <serving pod jar>
 *       ...}, plus {@code --parent-pid <this JVM>} for {@code serve} so no pod outlives the test
 *       JVM; any other command is refused;</li>
 *   <li>env: plain values, {@code valueFrom} fieldRef / secretKeyRef / configMapKeyRef read from the
 *       API server, {@code envFrom}, and {@code $(VAR)} expansion, as the kubelet does;</li>
 *   <li>then three rewrites, because every pod here shares the host's filesystem and 127.0.0.1:
 *       a value or argument under a mount path is moved under the volume's folder; an env value
 *       equal to one of the container's declared ports becomes that port's host port; and
 *       {@code 0.0.0.0} (listen everywhere) becomes {@code 127.0.0.1}, the pod IP here.</li>
 * </ul>
 */
final class PodSandbox {
    /** The serving-pod image's JDK_JAVA_OPTIONS (docs/IMAGES.md); -XX:MaxRAM below stands for the container's memory limit. */
    static final List<String> JVM_FLAGS = List.of("--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
            "-XX:+UseParallelGC", "-XX:MaxRAMPercentage=75");
    static final String LAUNCHER = "shuttle";

    private final KubernetesClient client;
    private final Pod pod;
    private final Path dir;
    private final HostPorts ports;
    private final KubeletSettings settings;
    private final Map<String, Path> volumes = new LinkedHashMap<>();

    PodSandbox(KubernetesClient client, Pod pod, Path dir, HostPorts ports, KubeletSettings settings) {
        this.client = client;
        this.pod = pod;
        this.dir = dir;
        this.ports = ports;
        this.settings = settings;
    }

    String podName() {
        return pod.getMetadata().getName();
    }

    Path dir() {
        return dir;
    }

    /** The local folder of volume {@code name}. */
    Path volume(String name) {
        Path p = volumes.get(name);
        if (p == null) {
            throw new IllegalArgumentException("pod " + podName() + " has no volume '" + name + "'");
        }
        return p;
    }

    /**
     * Creates every volume's folder and writes ConfigMaps and Secrets into them.
     *
     * @throws MissingObjectException when a referenced ConfigMap or Secret does not exist (yet)
     */
    void writeVolumes() throws IOException {
        Path root = dir.resolve("volumes");
        for (Volume v : pod.getSpec().getVolumes()) {
            Path target = root.resolve(v.getName());
            Files.createDirectories(target);
            volumes.put(v.getName(), target);
            if (v.getConfigMap() != null) {
                ConfigMap cm = client.configMaps().inNamespace(namespace()).withName(v.getConfigMap().getName()).get();
                if (cm == null) {
                    if (Boolean.TRUE.equals(v.getConfigMap().getOptional())) {
                        continue;
                    }
                    throw new MissingObjectException("ConfigMap " + v.getConfigMap().getName() + " of volume " + v.getName());
                }
                Map<String, byte[]> files = new LinkedHashMap<>();
                if (cm.getData() != null) {
                    cm.getData().forEach((k, text) -> files.put(k,
                            PlanAddresses.rewrite(text, ports).getBytes(StandardCharsets.UTF_8)));
                }
                if (cm.getBinaryData() != null) {
                    cm.getBinaryData().forEach((k, b64) -> files.put(k, Base64.getDecoder().decode(b64)));
                }
                writeFiles(target, files, v.getConfigMap().getItems(), v.getConfigMap().getDefaultMode());
            } else if (v.getSecret() != null) {
                Secret s = client.secrets().inNamespace(namespace()).withName(v.getSecret().getSecretName()).get();
                if (s == null) {
                    if (Boolean.TRUE.equals(v.getSecret().getOptional())) {
                        continue;
                    }
                    throw new MissingObjectException("Secret " + v.getSecret().getSecretName() + " of volume " + v.getName());
                }
                writeFiles(target, secretData(s), v.getSecret().getItems(), v.getSecret().getDefaultMode());
            } else if (v.getEmptyDir() == null) {
                throw new IllegalStateException("the local kubelet cannot mount volume '" + v.getName() + "' of pod " + podName()
                        + ": only configMap, secret and emptyDir volumes are supported");
            }
        }
    }

    /**
     * Brings the running pod's ConfigMap volumes up to date, as a kubelet does for mounted
     * ConfigMaps (without {@code subPath}): a changed file is replaced atomically, so the process
     * never reads half of it. Secrets are left as they are (the tests never change them).
     */
    void refreshConfigMaps() throws IOException {
        for (Volume v : pod.getSpec().getVolumes()) {
            Path target = volumes.get(v.getName());
            if (v.getConfigMap() == null || target == null) {
                continue;
            }
            ConfigMap cm = client.configMaps().inNamespace(namespace()).withName(v.getConfigMap().getName()).get();
            if (cm == null) {
                continue; // a kubelet keeps the last content of a deleted ConfigMap
            }
            Map<String, byte[]> files = new LinkedHashMap<>();
            if (cm.getData() != null) {
                cm.getData().forEach((k, text) -> files.put(k,
                        PlanAddresses.rewrite(text, ports).getBytes(StandardCharsets.UTF_8)));
            }
            if (cm.getBinaryData() != null) {
                cm.getBinaryData().forEach((k, b64) -> files.put(k, Base64.getDecoder().decode(b64)));
            }
            writeFiles(target, files, v.getConfigMap().getItems(), v.getConfigMap().getDefaultMode());
        }
    }

    private static Map<String, byte[]> secretData(Secret s) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        if (s.getData() != null) {
            s.getData().forEach((k, b64) -> files.put(k, Base64.getDecoder().decode(b64)));
        }
        if (s.getStringData() != null) {
            s.getStringData().forEach((k, text) -> files.put(k, text.getBytes(StandardCharsets.UTF_8)));
        }
        return files;
    }

    private static void writeFiles(Path target, Map<String, byte[]> files, List<KeyToPath> items, Integer mode) throws IOException {
        Map<String, String> paths = new LinkedHashMap<>();
        if (items == null || items.isEmpty()) {
            files.keySet().forEach(k -> paths.put(k, k));
        } else {
            items.forEach(i -> paths.put(i.getKey(), i.getPath()));
        }
        for (Map.Entry<String, String> e : paths.entrySet()) {
            byte[] content = files.get(e.getKey());
            if (content == null) {
                throw new IllegalStateException("volume item '" + e.getKey() + "' is missing from its ConfigMap/Secret");
            }
            Path file = target.resolve(e.getValue()).normalize();
            if (!file.startsWith(target)) {
                throw new IllegalStateException("volume item path '" + e.getValue() + "' leaves its volume");
            }
            Files.createDirectories(file.getParent());
            if (Files.exists(file) && java.util.Arrays.equals(Files.readAllBytes(file), content)) {
                continue;
            }
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            Files.write(tmp, content);
            if (mode != null) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(permissions(mode)));
            }
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /** A Kubernetes file mode (e.g. 0400) as rwx text; the owner keeps read access so this process can clean up. */
    private static String permissions(int mode) {
        StringBuilder s = new StringBuilder();
        String rwx = "rwxrwxrwx";
        for (int bit = 0; bit < 9; bit++) {
            s.append((mode & (1 << (8 - bit))) != 0 ? rwx.charAt(bit) : '-');
        }
        s.setCharAt(0, 'r');
        return s.toString();
    }

    /** The process for {@code container}: command line, environment, log file. */
    ProcessBuilder process(Container container, Path log, boolean addParentPid) {
        List<Mount> mounts = mounts(container);
        Map<String, String> env = env(container);
        List<String> cmd = new ArrayList<>();
        List<String> command = container.getCommand() == null || container.getCommand().isEmpty()
                ? List.of(LAUNCHER) : container.getCommand();
        if (!command.getFirst().equals(LAUNCHER)) {
            throw new IllegalStateException("the local kubelet runs only the shuttle image's launcher '" + LAUNCHER
                    + "'; container " + container.getName() + " of pod " + podName() + " runs " + command);
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(JVM_FLAGS);
        memoryLimit(container).ifPresent(bytes -> cmd.add("-XX:MaxRAM=" + bytes)); // the JVM sizes its heap from the cgroup limit
        local("/tmp", mounts).ifPresent(tmp -> cmd.add("-Djava.io.tmpdir=" + tmp));
        cmd.add("-jar");
        cmd.add(settings.podJar().toString());
        List<String> args = new ArrayList<>(command.subList(1, command.size()));
        if (container.getArgs() != null) {
            args.addAll(container.getArgs());
        }
        for (String a : args) {
            cmd.add(rewritePath(expand(a, env), mounts));
        }
        if (addParentPid && args.size() > 0 && args.getFirst().equals("serve")) {
            // Orphan guard: the pod exits with this JVM even if it is killed before @AfterAll runs.
            cmd.add("--parent-pid");
            cmd.add(Long.toString(ProcessHandle.current().pid()));
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).directory(dir.toFile());
        Map<String, String> processEnv = pb.environment();
        processEnv.clear();
        processEnv.put("PATH", "/usr/local/bin:/usr/bin:/bin");
        processEnv.put("HOSTNAME", podName());
        processEnv.put("UCX_LOG_LEVEL", "error");
        processEnv.put("UCX_NET_DEVICES", "lo");
        // A short warm-up keeps the readiness path of real pods (ready only once it ended) at a
        // bounded cost per pod on a 2-core runner; a pod template that sets it wins (below).
        processEnv.put("SHUTTLE_WARMUP_SECONDS", "5");
        List<Integer> declared = container.getPorts() == null ? List.of()
                : container.getPorts().stream().map(ContainerPort::getContainerPort).toList();
        env.forEach((k, v) -> processEnv.put(k, rewriteEnv(v, mounts, declared)));
        return pb;
    }

    /** The host port of the container port named or numbered {@code port} (probes, Services). */
    int hostPort(Container container, String port) {
        if (port.matches("\\d+")) {
            return ports.port(podName(), Integer.parseInt(port));
        }
        for (ContainerPort p : container.getPorts()) {
            if (port.equals(p.getName())) {
                return ports.port(podName(), p.getContainerPort());
            }
        }
        throw new IllegalArgumentException("container " + container.getName() + " of pod " + podName() + " has no port named " + port);
    }

    private String rewriteEnv(String value, List<Mount> mounts, List<Integer> declaredPorts) {
        if (value.matches("\\d{1,5}") && declaredPorts.contains(Integer.parseInt(value))) {
            return Integer.toString(ports.port(podName(), Integer.parseInt(value)));
        }
        if (value.equals("0.0.0.0")) {
            return "127.0.0.1";
        }
        return rewritePath(value, mounts);
    }

    private record Mount(String containerPath, Path local) {
    }

    private List<Mount> mounts(Container container) {
        List<Mount> out = new ArrayList<>();
        if (container.getVolumeMounts() != null) {
            for (VolumeMount m : container.getVolumeMounts()) {
                Path local = volume(m.getName());
                if (m.getSubPath() != null && !m.getSubPath().isEmpty()) {
                    local = local.resolve(m.getSubPath());
                }
                out.add(new Mount(m.getMountPath().replaceAll("/+$", ""), local));
            }
        }
        out.sort(Comparator.comparingInt((Mount m) -> m.containerPath().length()).reversed());
        return out;
    }

    private static java.util.Optional<Path> local(String containerPath, List<Mount> mounts) {
        return mounts.stream().filter(m -> m.containerPath().equals(containerPath)).map(Mount::local).findFirst();
    }

    /** A path under a mount point, moved under the volume's local folder; anything else unchanged. */
    private static String rewritePath(String value, List<Mount> mounts) {
        for (Mount m : mounts) {
            String p = m.containerPath();
            if (value.equals(p) || value.startsWith(p + "/")) {
                return m.local() + value.substring(p.length());
            }
        }
        return value;
    }

    private java.util.Optional<Long> memoryLimit(Container container) {
        if (container.getResources() == null || container.getResources().getLimits() == null) {
            return java.util.Optional.empty();
        }
        Quantity q = container.getResources().getLimits().get("memory");
        return q == null ? java.util.Optional.empty() : java.util.Optional.of(Quantity.getAmountInBytes(q).longValueExact());
    }

    /** The container's environment as the container sees it (before the local rewrites). */
    Map<String, String> env(Container container) {
        Map<String, String> env = new LinkedHashMap<>();
        if (container.getEnvFrom() != null) {
            for (EnvFromSource from : container.getEnvFrom()) {
                String prefix = from.getPrefix() == null ? "" : from.getPrefix();
                if (from.getConfigMapRef() != null) {
                    ConfigMap cm = client.configMaps().inNamespace(namespace()).withName(from.getConfigMapRef().getName()).get();
                    if (cm == null && !Boolean.TRUE.equals(from.getConfigMapRef().getOptional())) {
                        throw new MissingObjectException("ConfigMap " + from.getConfigMapRef().getName() + " of envFrom");
                    }
                    if (cm != null && cm.getData() != null) {
                        cm.getData().forEach((k, v) -> env.put(prefix + k, v));
                    }
                } else if (from.getSecretRef() != null) {
                    Secret s = client.secrets().inNamespace(namespace()).withName(from.getSecretRef().getName()).get();
                    if (s == null && !Boolean.TRUE.equals(from.getSecretRef().getOptional())) {
                        throw new MissingObjectException("Secret " + from.getSecretRef().getName() + " of envFrom");
                    }
                    if (s != null) {
                        secretData(s).forEach((k, v) -> env.put(prefix + k, new String(v, StandardCharsets.UTF_8)));
                    }
                }
            }
        }
        if (container.getEnv() != null) {
            for (EnvVar e : container.getEnv()) {
                String value = e.getValueFrom() != null ? valueFrom(e.getName(), e.getValueFrom())
                        : expand(e.getValue() == null ? "" : e.getValue(), env);
                if (value != null) {
                    env.put(e.getName(), value);
                }
            }
        }
        return env;
    }

    private String valueFrom(String name, EnvVarSource from) {
        if (from.getFieldRef() != null) {
            return field(name, from.getFieldRef().getFieldPath());
        }
        if (from.getSecretKeyRef() != null) {
            var ref = from.getSecretKeyRef();
            Secret s = client.secrets().inNamespace(namespace()).withName(ref.getName()).get();
            byte[] v = s == null ? null : secretData(s).get(ref.getKey());
            if (v == null) {
                if (Boolean.TRUE.equals(ref.getOptional())) {
                    return null;
                }
                throw new MissingObjectException("key " + ref.getKey() + " of Secret " + ref.getName() + " (env " + name + ")");
            }
            return new String(v, StandardCharsets.UTF_8);
        }
        if (from.getConfigMapKeyRef() != null) {
            var ref = from.getConfigMapKeyRef();
            ConfigMap cm = client.configMaps().inNamespace(namespace()).withName(ref.getName()).get();
            String v = cm == null || cm.getData() == null ? null : cm.getData().get(ref.getKey());
            if (v == null) {
                if (Boolean.TRUE.equals(ref.getOptional())) {
                    return null;
                }
                throw new MissingObjectException("key " + ref.getKey() + " of ConfigMap " + ref.getName() + " (env " + name + ")");
            }
            return v;
        }
        throw new IllegalStateException("env " + name + " of pod " + podName()
                + ": the local kubelet resolves only fieldRef, secretKeyRef and configMapKeyRef");
    }

    private static final Pattern LABEL_REF = Pattern.compile("metadata\\.(labels|annotations)\\['([^']+)'\\]");

    private String field(String name, String path) {
        Matcher m = LABEL_REF.matcher(path);
        if (m.matches()) {
            Map<String, String> map = m.group(1).equals("labels") ? pod.getMetadata().getLabels() : pod.getMetadata().getAnnotations();
            String v = map == null ? null : map.get(m.group(2));
            if (v == null) {
                throw new IllegalStateException("env " + name + " of pod " + podName() + " refers to " + path + ", which the pod lacks");
            }
            return v;
        }
        return switch (path) {
            case "metadata.name" -> podName();
            case "metadata.namespace" -> namespace();
            case "metadata.uid" -> pod.getMetadata().getUid();
            case "spec.nodeName" -> pod.getSpec().getNodeName();
            case "spec.serviceAccountName" -> pod.getSpec().getServiceAccountName();
            case "status.podIP", "status.hostIP" -> "127.0.0.1";
            default -> throw new IllegalStateException("env " + name + " of pod " + podName() + ": unsupported fieldPath " + path);
        };
    }

    /** Kubernetes' {@code $(VAR)} expansion: defined variables are replaced, undefined ones kept, {@code $$} is a {@code $}. */
    static String expand(String value, Map<String, String> env) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '$' && i + 1 < value.length()) {
                char next = value.charAt(i + 1);
                if (next == '$') {
                    out.append('$');
                    i++;
                    continue;
                }
                int close = next == '(' ? value.indexOf(')', i + 2) : -1;
                String defined = close > 0 ? env.get(value.substring(i + 2, close)) : null;
                if (defined != null) {
                    out.append(defined);
                    i = close;
                    continue;
                }
            }
            out.append(c);
        }
        return out.toString();
    }

    private String namespace() {
        return pod.getMetadata().getNamespace();
    }

    /** A ConfigMap, Secret or key the pod needs does not exist yet: the pod waits, as on a cluster. */
    static final class MissingObjectException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        MissingObjectException(String what) {
            super(what + " does not exist");
        }
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (var walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    p.toFile().setWritable(true);
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
