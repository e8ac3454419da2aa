package io.shuttle.model;

/**
 * A checkpoint could not be read or written. The message always names the file (and the tensor,
 * where one is involved) and says what to do about it, so it can be shown to a person as is.
 * Unchecked: a broken checkpoint is not something the engine can recover from at the call site.
 */
public final class CheckpointException extends RuntimeException {

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
