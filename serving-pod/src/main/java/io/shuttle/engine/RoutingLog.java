package io.shuttle.engine;

/**
 * The (layer, expert) pairs an {@link ExpertStage} ran, in order, up to a fixed capacity (pairs
 * past it are counted, not kept). The engine benchmark records a decode window with it so its
 * bandwidth probe can replay the weight reads of exactly those steps, routed experts included.
 * Not thread-safe: one stage writes it, and it is read after the window.
 */
public final class RoutingLog {
    private final int[] layers;
    private final int[] experts;
    private int size;
    private long dropped;

    public RoutingLog(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("a routing log needs a capacity of at least 1, got " + capacity);
        }
        layers = new int[capacity];
        experts = new int[capacity];
    }

    void record(int layer, int expert) {
        if (size == layers.length) {
            dropped++;
            return;
        }
        layers[size] = layer;
        experts[size] = expert;
        size++;
    }

    public int size() {
        return size;
    }

    /** Pairs that arrived after the log was full. */
    public long dropped() {
        return dropped;
    }

    public int layer(int i) {
        return layers[checked(i)];
    }

    public int expert(int i) {
        return experts[checked(i)];
    }

    private int checked(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("routing log entry " + i + " of " + size);
        }
        return i;
    }
}
