package io.shuttle.plan;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Watches a running pod's plan file and hands each new valid version to a listener. Kubernetes
 * updates a mounted ConfigMap by swapping a symlink (within about a minute of the change), so
 * the file is read again on a timer and compared by content, not by modification time or
 * file events. An invalid new version is logged with every problem and ignored: the pod keeps
 * the plan it runs.
 */
public final class PlanWatcher implements AutoCloseable {
    private static final Logger LOG = System.getLogger(PlanWatcher.class.getName());

    private final Path file;
    private final int numExperts;
    private final Consumer<ServingPlan> listener;
    private final Thread thread;
    private final Duration every;
    private volatile boolean stopped;
    private byte[] lastDigest;
    private volatile long reloads;
    private volatile long rejected;

    /** The file's content now is the plan the pod runs; only later versions are reported. */
    public PlanWatcher(Path file, int numExperts, Duration every, Consumer<ServingPlan> listener) {
        this.file = file;
        this.numExperts = numExperts;
        this.every = every;
        this.listener = listener;
        this.lastDigest = digest(read());
        this.thread = new Thread(this::run, "plan-watcher");
        this.thread.setDaemon(true);
    }

    public PlanWatcher start() {
        thread.start();
        return this;
    }

    /** Checks the file once; returns true when a new valid plan was handed over. */
    public boolean poll() {
        byte[] bytes = read();
        if (bytes == null) {
            return false; // between a ConfigMap's symlink swaps, or briefly unreadable: next time
        }
        byte[] d = digest(bytes);
        if (Arrays.equals(d, lastDigest)) {
            return false;
        }
        lastDigest = d;
        ServingPlan plan;
        try {
            plan = PlanReader.parse(file.toString(), new String(bytes, java.nio.charset.StandardCharsets.UTF_8), numExperts);
        } catch (RuntimeException e) {
            rejected++;
            LOG.log(Level.WARNING, "the plan file " + file + " changed but the new version is invalid; this pod keeps "
                    + "the plan it runs: " + e.getMessage());
            return false;
        }
        reloads++;
        listener.accept(plan);
        return true;
    }

    /** New valid plan versions seen since start. */
    public long reloads() {
        return reloads;
    }

    /** New plan versions refused as invalid since start. */
    public long rejected() {
        return rejected;
    }

    private void run() {
        while (!stopped) {
            try {
                Thread.sleep(every.toMillis());
                poll();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "applying a new plan failed: " + e);
            }
        }
    }

    private byte[] read() {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            return null;
        }
    }

    private static byte[] digest(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
    }
}
