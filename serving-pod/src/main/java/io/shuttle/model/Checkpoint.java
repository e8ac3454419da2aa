package io.shuttle.model;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.CheckpointFiles.Located;
import io.shuttle.model.safetensors.HeaderEntry;
import io.shuttle.model.safetensors.SafetensorsFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A Hugging Face Mixtral checkpoint folder, opened for lazy loading. This is the entry point the
 * engine uses to get weights.
 *
 * <pre>{@code
 * try (Checkpoint ckpt = Checkpoint.open(dir)) {
 *     ModelConfig c = ckpt.config();
 *     Tensor q = ckpt.tensor(MixtralNames.qProj(0), c.qDim(), c.hiddenSize());   // mapped now, shape checked
 *     ckpt.prefault(ConsoleProgress.stderr("loading weights"));                 // optional warm-up
 * }
 * }</pre>
 *
 * <p>{@link #open} reads {@code config.json} and the safetensors headers only ({@code model.safetensors},
 * or the shards named by {@code model.safetensors.index.json}) and validates them: corrupt or
 * truncated files, tensors whose shape contradicts config.json and Mixtral tensors in a dtype the
 * engine cannot use are reported here, before any data is touched. {@link #tensor} then maps just
 * that tensor's bytes read-only ({@code FileChannel.map} into a shared arena): nothing is copied and
 * nothing else is mapped, which {@link #mappedBytes()} makes visible (expert pods map only their
 * experts). Mapping the same tensor twice returns the same view.
 *
 * <p>Thread-safe. {@link #close()} unmaps everything: tensors obtained earlier must not be used
 * afterwards (they throw {@link IllegalStateException}). Every failure is a
 * {@link CheckpointException} naming the file and the tensor.
 */
public final class Checkpoint implements AutoCloseable {

    private static final long PAGE = 4096;
    private static final long PROGRESS_STEP = 64L << 20;

    private final Path directory;
    private final ModelConfig config;
    private final CheckpointFiles files;
    private final Map<String, MixtralLayout.Expected> layout;
    private final Set<String> names;
    private final long totalBytes;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> mapped = new ConcurrentHashMap<>();
    private final AtomicLong mappedBytes = new AtomicLong();
    private volatile boolean closed;
    private volatile long prefaultSink;

    private Checkpoint(Path directory, ModelConfig config, CheckpointFiles files) {
        this.directory = directory;
        this.config = config;
        this.files = files;
        this.layout = MixtralLayout.byName(config);
        this.names = Collections.unmodifiableSet(new TreeSet<>(files.tensors().keySet()));
        this.totalBytes = files.tensors().values().stream().mapToLong(l -> l.entry().byteSize()).sum();
    }

    /** Opens a checkpoint folder (config.json plus model.safetensors or a sharded index) and validates it. */
    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException(dir + (Files.exists(dir) ? " is not a directory" : " does not exist")
                    + "; pass the folder that holds config.json and the .safetensors files");
        }
        ModelConfig config = MixtralConfigReader.read(dir);
        CheckpointFiles files = CheckpointFiles.open(dir);
        try {
            Checkpoint ckpt = new Checkpoint(dir, config, files);
            ckpt.checkKnownTensors();
            return ckpt;
        } catch (RuntimeException e) {
            files.closeAll();
            throw e;
        }
    }

    public ModelConfig config() {
        return config;
    }

    public Path directory() {
        return directory;
    }

    /** The safetensors files of this checkpoint. */
    public List<Path> files() {
        return files.files().stream().map(SafetensorsFile::path).toList();
    }

    /** All tensor names, sorted. */
    public Set<String> tensorNames() {
        return names;
    }

    public boolean contains(String name) {
        return files.tensors().containsKey(name);
    }

    /** Header facts about a tensor, without mapping it. */
    public TensorInfo info(String name) {
        Located loc = locate(name);
        HeaderEntry e = loc.entry();
        return new TensorInfo(name, loc.file().path(), kernelType(loc), e.shape(), e.byteSize());
    }

    /** The tensor, mapped on first use; throws if it is missing or its dtype unsupported. */
    public Tensor tensor(String name) {
        checkOpen();
        Located loc = locate(name);
        DType dtype = kernelType(loc);
        try {
            return mapped.computeIfAbsent(name, n -> {
                MemorySegment segment = loc.file().map(loc.entry(), arena);
                mappedBytes.addAndGet(loc.entry().byteSize());
                return Tensor.of(segment, dtype, loc.entry().shape());
            });
        } catch (IllegalStateException e) {
            throw closedError(e);
        }
    }

    /**
     * The tensor, after checking its shape against {@code expectedShape} (before mapping anything).
     * A mismatch names the file, the tensor, both shapes and the config.json fields behind the
     * expected shape.
     */
    public Tensor tensor(String name, long... expectedShape) {
        Located loc = locate(name);
        long[] actual = loc.entry().shape();
        if (!Arrays.equals(actual, expectedShape)) {
            throw shapeMismatch(loc, expectedShape);
        }
        return tensor(name);
    }

    /** Bytes of tensor data mapped so far (each tensor counted once). */
    public long mappedBytes() {
        return mappedBytes.get();
    }

    /** Bytes of all tensor data in the checkpoint. */
    public long totalBytes() {
        return totalBytes;
    }

    /**
     * Reads one byte of every 4 KiB page of the given tensors so the operating system faults the
     * weights in now rather than during the first request, reporting bytes touched to {@code progress}.
     *
     * @return the number of bytes covered
     */
    public long prefault(Collection<Tensor> tensors, ProgressListener progress) {
        long total = tensors.stream().mapToLong(t -> t.data().byteSize()).sum();
        long done = 0;
        long reported = 0;
        long sink = 0;
        progress.progress(0, total);
        try {
            for (Tensor t : tensors) {
                MemorySegment s = t.data();
                for (long off = 0; off < s.byteSize(); off += PAGE) {
                    sink += s.get(ValueLayout.JAVA_BYTE, off);
                    if (done + off - reported >= PROGRESS_STEP) {
                        reported = done + off;
                        progress.progress(reported, total);
                    }
                }
                done += s.byteSize();
            }
        } catch (IllegalStateException e) {
            throw closedError(e);
        }
        prefaultSink = sink;   // keeps the reads from being optimised away
        progress.progress(total, total);
        return total;
    }

    /** {@link #prefault(Collection, ProgressListener)} over every tensor mapped so far. */
    public long prefault(ProgressListener progress) {
        checkOpen();
        return prefault(List.copyOf(mapped.values()), progress);
    }

    /** Unmaps all tensors and closes the files. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        mapped.clear();
        try {
            arena.close();
        } finally {
            files.closeAll();
        }
    }

    private void checkKnownTensors() {
        for (Located loc : files.tensors().values()) {
            MixtralLayout.Expected expected = layout.get(loc.entry().name());
            if (expected != null) {
                if (!Arrays.equals(loc.entry().shape(), expected.shape())) {
                    throw shapeMismatch(loc, expected.shape());
                }
                kernelType(loc);
            }
        }
    }

    private Located locate(String name) {
        Located loc = files.tensors().get(name);
        if (loc == null) {
            throw new CheckpointException("tensor '" + name + "' is not in the checkpoint " + directory + " (searched "
                    + files.searched() + "); the weights do not match config.json or the download is incomplete");
        }
        return loc;
    }

    private static DType kernelType(Located loc) {
        return loc.entry().dtype().kernelType().orElseThrow(() -> new CheckpointException(loc.file().path()
                + ": tensor '" + loc.entry().name() + "' has dtype " + loc.entry().dtype()
                + ", which the engine cannot load; supported: F32, BF16, F16, I32 (convert the checkpoint, e.g. to bf16)"));
    }

    private CheckpointException shapeMismatch(Located loc, long[] expectedShape) {
        MixtralLayout.Expected known = layout.get(loc.entry().name());
        String expectation = known != null && Arrays.equals(known.shape(), expectedShape)
                ? "config.json implies " + Arrays.toString(expectedShape) + " (" + known.reason() + ")"
                : "the caller expects " + Arrays.toString(expectedShape);
        return new CheckpointException(loc.file().path() + ": tensor '" + loc.entry().name() + "' has shape "
                + Arrays.toString(loc.entry().shape()) + " but " + expectation
                + "; the weights do not belong to this config.json");
    }

    private void checkOpen() {
        if (closed) {
            throw new CheckpointException("checkpoint " + directory + " is closed; open it again to read tensors");
        }
    }

    private CheckpointException closedError(IllegalStateException e) {
        if (closed) {
            return new CheckpointException("checkpoint " + directory + " was closed while tensors were being read", e);
        }
        throw e;
    }
}
