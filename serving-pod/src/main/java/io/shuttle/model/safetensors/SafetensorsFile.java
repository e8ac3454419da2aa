package io.shuttle.model.safetensors;

import io.shuttle.model.CheckpointException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One open safetensors file: its validated header and an open read-only channel from which
 * single tensors are memory-mapped on request. Opening reads only the header (never the data),
 * so a truncated or corrupt file is reported at open, and mapping costs nothing until asked.
 *
 * <p>Thread-safe: {@link #map} may be called from several threads. Mappings belong to the arena
 * passed in, not to this object; {@link #close()} only closes the channel.
 */
public final class SafetensorsFile implements AutoCloseable {

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final SafetensorsHeader header;
    private final Map<String, HeaderEntry> byName;

    private SafetensorsFile(Path path, FileChannel channel, long fileSize, SafetensorsHeader header) {
        this.path = path;
        this.channel = channel;
        this.fileSize = fileSize;
        this.header = header;
        this.byName = new HashMap<>();
        for (HeaderEntry e : header.entries()) {
            byName.put(e.name(), e);
        }
    }

    /** Opens and validates a file; throws {@link CheckpointException} naming the file on any problem. */
    public static SafetensorsFile open(Path path) {
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path + ": file not found (download the checkpoint again or fix the path)", e);
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot open (" + e.getMessage() + ")", e);
        }
        try {
            long size = channel.size();
            byte[] prefix = readFully(channel, 0, (int) Math.min(8, size));
            long n = SafetensorsHeader.headerLength(path.toString(), prefix, size);
            byte[] json = readFully(channel, 8, (int) n);
            SafetensorsHeader header = SafetensorsHeader.parse(path.toString(), json, size);
            return new SafetensorsFile(path, channel, size, header);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new CheckpointException(path + ": cannot read the header (" + e.getMessage() + ")", e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public long fileSize() {
        return fileSize;
    }

    public SafetensorsHeader header() {
        return header;
    }

    /** The tensors in data-offset order. */
    public List<HeaderEntry> entries() {
        return header.entries();
    }

    public Optional<HeaderEntry> entry(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /**
     * Maps one tensor's bytes read-only into {@code arena}; nothing else of the file is mapped.
     * A zero-byte tensor gets an empty segment.
     */
    public MemorySegment map(HeaderEntry entry, Arena arena) {
        if (byName.get(entry.name()) != entry) {
            throw new IllegalArgumentException(entry + " is not an entry of " + path);
        }
        if (entry.byteSize() == 0) {
            return arena.allocate(0);
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, header.dataStart() + entry.begin(), entry.byteSize(), arena);
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot map tensor '" + entry.name() + "' (" + e.getMessage()
                    + "); check that the file is still there and readable", e);
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static byte[] readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining()) {
            int n = channel.read(buf, position + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + (position + buf.position()));
            }
        }
        return buf.array();
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Read-only channel: nothing can be lost by a failed close.
        }
    }
}
