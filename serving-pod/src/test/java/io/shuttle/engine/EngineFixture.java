package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.model.Checkpoint;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** An engine over a checkpoint folder with the CPU backend, closed in order. */
final class EngineFixture implements AutoCloseable {
    final Checkpoint checkpoint;
    final Backend backend;
    final Engine engine;

    EngineFixture(Path dir, EngineOptions options) {
        checkpoint = Checkpoint.open(dir);
        backend = new CpuBackend(2);
        engine = new Engine(checkpoint, backend, options);
    }

    EngineFixture(Path dir) {
        this(dir, new EngineOptions(256, 16, 256, 16, 256));
    }

    /** Random prompts of the given lengths (ids ≥ 3, so no special tokens), seeded. */
    static List<int[]> prompts(long seed, int vocab, int... lengths) {
        SplittableRandom r = new SplittableRandom(seed);
        List<int[]> out = new ArrayList<>();
        for (int len : lengths) {
            out.add(r.ints(len, 3, vocab).toArray());
        }
        return out;
    }

    static double maxAbsDiff(float[] a, double[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    @Override
    public void close() {
        engine.close();
        backend.close();
        checkpoint.close();
    }
}
