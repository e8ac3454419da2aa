package io.shuttle.model;

/**
 * Receives progress of a long operation (writing or pre-faulting a checkpoint) as a count of
 * units done out of a total, usually bytes. Called from the thread doing the work; {@code done}
 * never decreases and the last call has {@code done == total}.
 */
@FunctionalInterface
public interface ProgressListener {

    void progress(long done, long total);

    /** A listener that ignores all progress. */
    static ProgressListener none() {
        return (done, total) -> { };
    }
}
