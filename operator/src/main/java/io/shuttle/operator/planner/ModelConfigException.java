package io.shuttle.operator.planner;

/** A model config the planner cannot use; the message names the file, the field and the fix. */
public final class ModelConfigException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public ModelConfigException(String message) {
        super(message);
    }

    public ModelConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
