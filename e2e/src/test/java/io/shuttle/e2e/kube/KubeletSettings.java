package io.shuttle.e2e.kube;

import java.nio.file.Path;
import java.time.Duration;

/**
 * How the local kubelet runs pods.
 *
 * @param podJar        the serving pod's quarkus-run.jar, what the image's {@code shuttle} launcher runs
 * @param root          folder for the pods' volumes and logs
 * @param probePeriod   how often readiness is probed (shorter than the templates' 5 s, to keep the test fast)
 * @param maxBackoff    longest wait before restarting a container that exited (CrashLoopBackOff; a
 *                      cluster waits up to 5 minutes, far too long for a test)
 * @param initTimeout   how long an init container may run
 */
public record KubeletSettings(Path podJar, Path root, Duration probePeriod, Duration maxBackoff, Duration initTimeout) {

    public KubeletSettings {
        if (!podJar.toFile().isFile()) {
            throw new IllegalArgumentException("the serving pod's jar " + podJar + " does not exist: build it with "
                    + "'./mvnw -pl serving-pod -am package -DskipTests' (e2e/pom.xml passes -Dshuttle.pod.jar)");
        }
    }

    public static KubeletSettings forTests(Path podJar, Path root) {
        return new KubeletSettings(podJar, root, Duration.ofMillis(500), Duration.ofSeconds(5), Duration.ofSeconds(120));
    }
}
