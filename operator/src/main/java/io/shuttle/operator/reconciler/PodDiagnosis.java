package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Why pods are not running, from their status alone: capacity problems (unschedulable, no GPUs
 * of the type) told apart from crashes (with the last log lines, which
 * {@code terminationMessagePolicy: FallbackToLogsOnError} puts in the termination message) and
 * image problems.
 */
public final class PodDiagnosis {
    public static final String CRASH_LOOPING = "CrashLooping";
    public static final String NO_GPUS_OF_TYPE = "NoGpusOfType";
    public static final String UNSCHEDULABLE = "Unschedulable";
    public static final String IMAGE_PULL_FAILED = "ImagePullFailed";
    static final int TAIL_LINES = 10;
    static final int TAIL_CHARS = 1500;

    /** One problem: reason code, message, severity (higher first). */
    public record Problem(String reason, String message, int severity) {
    }

    private PodDiagnosis() {
    }

    /** The most severe problem among the pods, if any (crashes before capacity before images). */
    public static Optional<Problem> worst(List<Pod> pods) {
        List<Problem> problems = new ArrayList<>();
        for (Pod pod : pods) {
            problems.addAll(problems(pod));
        }
        return problems.stream().max(Comparator.comparingInt(Problem::severity));
    }

    static List<Problem> problems(Pod pod) {
        List<Problem> out = new ArrayList<>();
        String name = pod.getMetadata().getName();
        if (pod.getStatus() == null) {
            return out;
        }
        List<PodCondition> conditions = pod.getStatus().getConditions() == null ? List.of() : pod.getStatus().getConditions();
        for (PodCondition c : conditions) {
            if ("PodScheduled".equals(c.getType()) && "False".equals(c.getStatus()) && "Unschedulable".equals(c.getReason())) {
                String msg = c.getMessage() == null ? "" : c.getMessage();
                boolean gpu = msg.contains("nvidia.com/gpu") || msg.contains("node affinity/selector") && requestsGpus(pod);
                out.add(gpu
                        ? new Problem(NO_GPUS_OF_TYPE, "pod " + name + " cannot be placed: " + msg + gpuHint(pod), 2)
                        : new Problem(UNSCHEDULABLE, "pod " + name + " cannot be placed: " + msg, 1));
            }
        }
        List<ContainerStatus> statuses = Stream.concat(
                Optional.ofNullable(pod.getStatus().getInitContainerStatuses()).orElse(List.of()).stream(),
                Optional.ofNullable(pod.getStatus().getContainerStatuses()).orElse(List.of()).stream()).toList();
        for (ContainerStatus s : statuses) {
            String waiting = s.getState() != null && s.getState().getWaiting() != null ? s.getState().getWaiting().getReason() : null;
            if ("CrashLoopBackOff".equals(waiting)) {
                out.add(new Problem(CRASH_LOOPING, "pod " + name + " container " + s.getName() + " keeps crashing ("
                        + s.getRestartCount() + " restarts)" + lastExit(s), 4));
            } else if ("ImagePullBackOff".equals(waiting) || "ErrImagePull".equals(waiting) || "InvalidImageName".equals(waiting)) {
                out.add(new Problem(IMAGE_PULL_FAILED, "pod " + name + " container " + s.getName() + ": " + waiting + " "
                        + Optional.ofNullable(s.getState().getWaiting().getMessage()).orElse(""), 3));
            }
        }
        return out;
    }

    private static boolean requestsGpus(Pod pod) {
        return pod.getSpec() != null && pod.getSpec().getContainers().stream().anyMatch(c -> c.getResources() != null
                && c.getResources().getLimits() != null && c.getResources().getLimits().containsKey("nvidia.com/gpu"));
    }

    private static String gpuHint(Pod pod) {
        String type = pod.getSpec() == null || pod.getSpec().getNodeSelector() == null ? null
                : pod.getSpec().getNodeSelector().get(io.shuttle.operator.desired.Names.LABEL_GPU_TYPE);
        return type == null ? "" : " (needs nodes labelled " + io.shuttle.operator.desired.Names.LABEL_GPU_TYPE + "=" + type
                + " with free nvidia.com/gpu)";
    }

    private static String lastExit(ContainerStatus s) {
        if (s.getLastState() == null || s.getLastState().getTerminated() == null) {
            return "";
        }
        var t = s.getLastState().getTerminated();
        String tail = tail(t.getMessage());
        return "; last exit code " + t.getExitCode() + (t.getReason() == null ? "" : " (" + t.getReason() + ")")
                + (tail.isEmpty() ? "" : "; last log lines:\n" + tail);
    }

    /** The last {@value #TAIL_LINES} lines, at most {@value #TAIL_CHARS} characters. */
    static String tail(String log) {
        if (log == null || log.isBlank()) {
            return "";
        }
        String[] lines = log.strip().split("\n");
        String tail = String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - TAIL_LINES), lines.length));
        return tail.length() <= TAIL_CHARS ? tail : "…" + tail.substring(tail.length() - TAIL_CHARS);
    }
}
