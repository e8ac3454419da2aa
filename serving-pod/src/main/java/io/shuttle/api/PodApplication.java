package io.shuttle.api;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import io.shuttle.cli.ServeCommand;
import io.shuttle.serve.AttentionPod;
import io.shuttle.serve.ExpertPod;
import io.shuttle.serve.PodSettings;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.ConfigProvider;

import java.util.Locale;

/**
 * {@code shuttle serve} inside Quarkus: the HTTP server is already up (health says "loading");
 * this loads the pod, installs it for the HTTP side, prints the {@code shuttle-ready} line that
 * {@code shuttle local} and scripts wait for, and closes the pod when Quarkus stops (SIGTERM,
 * or the parent process of {@code --parent-pid} exiting).
 */
public class PodApplication implements QuarkusApplication {
    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(PodApplication.class);

    @Inject
    ServingRuntime runtime;

    @Override
    public int run(String... args) throws Exception {
        ServeCommand cmd = ServeCommand.parse(args);
        PodSettings settings = cmd.settings();
        runtime.apiKey(cmd.apiKey());
        if (cmd.parentPid() != null) {
            ProcessHandle.of(cmd.parentPid()).ifPresentOrElse(
                    p -> p.onExit().thenRun(Quarkus::asyncExit),
                    Quarkus::asyncExit);
        }
        AutoCloseable pod;
        try {
            if (settings.role() == PodSettings.Role.ATTENTION) {
                AttentionPod a = new AttentionPod(settings, runtime.metrics());
                runtime.install(a);
                pod = a;
            } else {
                ExpertPod e = new ExpertPod(settings, runtime.metrics());
                runtime.install(e);
                pod = e;
            }
        } catch (RuntimeException | java.io.IOException e) {
            System.err.println("error: the pod could not start: " + e.getMessage());
            return 2;
        }
        int port = ConfigProvider.getConfig().getOptionalValue("quarkus.http.port", Integer.class).orElse(settings.httpPort());
        System.out.printf(Locale.ROOT, "shuttle-ready role=%s ordinal=%d http=%d pid=%d%n",
                settings.role().name().toLowerCase(Locale.ROOT), settings.ordinal(), port, ProcessHandle.current().pid());
        System.out.flush();
        try {
            Quarkus.waitForExit();
            if (pod instanceof AttentionPod a) {
                drain(a, cmd.drainTimeout());
            }
        } finally {
            runtime.uninstall();
            pod.close();
        }
        return 0;
    }

    /**
     * Scale-in and rollouts: stop admitting (readiness goes down, new requests get 503 so the
     * Service sends them elsewhere) and let the admitted requests finish, up to {@code timeout}.
     */
    private void drain(AttentionPod pod, java.time.Duration timeout) {
        runtime.drain();
        long deadline = System.nanoTime() + timeout.toNanos();
        int left = pod.inFlight();
        if (left > 0) {
            LOG.infof("draining: %d requests in flight, waiting up to %d s", left, timeout.toSeconds());
        }
        while ((left = pod.inFlight()) > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (left > 0) {
            LOG.warnf("drain timeout: %d requests still in flight are ended", left);
        }
    }
}
