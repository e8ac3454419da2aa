package io.shuttle.model.safetensors;

import io.shuttle.kernels.Tensor;
import io.shuttle.model.CheckpointException;
import io.shuttle.model.ProgressListener;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes safetensors files byte-for-byte as the reference writer ({@code safetensors.torch.save_file},
 * i.e. {@code serialize_to_file} in safetensors' tensor.rs) does: tensors ordered by descending dtype
 * (F32, I32, BF16, F16) then by name, compact JSON header with {@code __metadata__} first, padded
 * with spaces to a multiple of 8 bytes so the data starts 8-byte aligned.
 *
 * <p>Tensor data is streamed one tensor at a time from a {@link TensorSource} through a per-tensor
 * off-heap buffer; the file appears under its final name only once complete (it is written to
 * {@code NAME.partial} first).
 */
public final class SafetensorsWriter {

    /** The metadata Hugging Face's {@code save_pretrained} writes for PyTorch models. */
    public static final Map<String, String> PT_METADATA = Map.of("format", "pt");

    /** Largest slice handed to one channel write (ByteBuffers are int-indexed). */
    private static final long WRITE_CHUNK = 1L << 30;

    private SafetensorsWriter() {
    }

    /**
     * Writes {@code tensors} to {@code file}, asking {@code source} for each tensor's bytes in
     * file order, and reports bytes written to {@code progress}.
     *
     * @return the size of the written file in bytes
     */
    public static long write(Path file, Collection<TensorSpec> tensors, Map<String, String> metadata,
                             TensorSource source, ProgressListener progress) {
        List<TensorSpec> ordered = referenceOrder(tensors);
        byte[] header = header(ordered, metadata);
        long total = ordered.stream().mapToLong(TensorSpec::byteSize).sum();
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
            writeFully(ch, prefix);
            writeFully(ch, ByteBuffer.wrap(header));
            long done = 0;
            progress.progress(0, total);
            for (TensorSpec spec : ordered) {
                writeTensor(ch, spec, source);
                done += spec.byteSize();
                progress.progress(done, total);
            }
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot write (" + e.getMessage()
                    + "); check free disk space and permissions", e);
        }
        moveIntoPlace(partial, file);
        return 8L + header.length + total;
    }

    /** Writes in-memory tensors with {@link #PT_METADATA} (tests, small files). */
    public static long write(Path file, Map<String, Tensor> tensors) {
        Map<String, Tensor> byName = new LinkedHashMap<>(tensors);
        List<TensorSpec> specs = new ArrayList<>();
        byName.forEach((name, t) -> specs.add(new TensorSpec(name, t.dtype(), t.shape())));
        return write(file, specs, PT_METADATA,
                (spec, out) -> MemorySegment.copy(byName.get(spec.name()).data(), 0, out, 0, spec.byteSize()),
                ProgressListener.none());
    }

    /**
     * The reference writer's data order: descending dtype (in {@link SafetensorsDType}'s order),
     * then name compared as UTF-8 bytes. Rejects duplicate names.
     */
    public static List<TensorSpec> referenceOrder(Collection<TensorSpec> tensors) {
        Set<String> seen = new HashSet<>();
        for (TensorSpec t : tensors) {
            if (!seen.add(t.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "'");
            }
        }
        Comparator<TensorSpec> byDType = Comparator.comparing(t -> SafetensorsDType.of(t.dtype()));
        Comparator<TensorSpec> byName = (a, b) -> Arrays.compareUnsigned(
                a.name().getBytes(StandardCharsets.UTF_8), b.name().getBytes(StandardCharsets.UTF_8));
        List<TensorSpec> out = new ArrayList<>(tensors);
        out.sort(byDType.reversed().thenComparing(byName));
        return out;
    }

    /**
     * The header JSON for tensors already in file order, padded with spaces to a multiple of 8
     * bytes (without the 8-byte length prefix). Metadata keys are sorted for a stable output.
     */
    public static byte[] header(List<TensorSpec> ordered, Map<String, String> metadata) {
        StringBuilder json = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            json.append("\"__metadata__\":{");
            String sep = "";
            for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
                json.append(sep).append(JsonText.serdeString(e.getKey())).append(':')
                        .append(JsonText.serdeString(e.getValue()));
                sep = ",";
            }
            json.append('}');
        }
        long offset = 0;
        for (TensorSpec t : ordered) {
            if (json.length() > 1) {
                json.append(',');
            }
            long end = offset + t.byteSize();
            json.append(JsonText.serdeString(t.name())).append(":{\"dtype\":\"")
                    .append(t.dtype().safetensorsName()).append("\",\"shape\":[");
            long[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) {
                json.append(i == 0 ? "" : ",").append(shape[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        json.append('}');
        byte[] raw = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (raw.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(raw, padded);
        Arrays.fill(out, raw.length, padded, (byte) ' ');
        return out;
    }

    private static void writeTensor(FileChannel ch, TensorSpec spec, TensorSource source) throws IOException {
        long size = spec.byteSize();
        if (size == 0) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(size, 64);
            source.fill(spec, buf);
            for (long pos = 0; pos < size; pos += WRITE_CHUNK) {
                writeFully(ch, buf.asSlice(pos, Math.min(WRITE_CHUNK, size - pos)).asByteBuffer());
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    private static void moveIntoPlace(Path partial, Path file) {
        try {
            try {
                Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot move " + partial.getFileName() + " into place ("
                    + e.getMessage() + ")", e);
        }
    }
}
