package io.shuttle.operator.desired;

/**
 * The spec cannot be turned into a deployment. {@link #reason()} becomes the reason of the
 * {@code Planned=False} condition, the message its message; nothing is created or changed.
 */
public final class InvalidSpecException extends RuntimeException {
    private final String reason;

    public InvalidSpecException(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    /** A CamelCase reason code (InvalidModel, PlanInfeasible, UnknownGpuType, InvalidPlacement, ...). */
    public String reason() {
        return reason;
    }
}
