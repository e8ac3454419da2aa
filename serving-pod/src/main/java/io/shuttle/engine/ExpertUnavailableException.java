package io.shuttle.engine;

/** A round could not complete because an expert was missing, too slow or failed. */
public final class ExpertUnavailableException extends RuntimeException {
    public ExpertUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }

    public ExpertUnavailableException(String message) {
        super(message);
    }
}
