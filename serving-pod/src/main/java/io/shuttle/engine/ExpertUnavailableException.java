package io.shuttle.engine;

/** A round could not complete because an expert was missing, too slow or failed. */
public final class ExpertUnavailableException extends RuntimeException {
    private final boolean retried;

    public ExpertUnavailableException(String message, Throwable cause) {
        this(message, cause, false);
    }

    public ExpertUnavailableException(String message) {
        this(message, null, false);
    }

    /** @param retried the step's requests were kept and the step will run again */
    public ExpertUnavailableException(String message, Throwable cause, boolean retried) {
        super(message, cause);
        this.retried = retried;
    }

    /** Whether the step's requests wait for a retry (true) or were ended (false). */
    public boolean retried() {
        return retried;
    }
}
