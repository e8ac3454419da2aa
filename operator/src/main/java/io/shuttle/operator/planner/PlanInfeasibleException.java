package io.shuttle.operator.planner;

/** No candidate meets the request; the message says which limit bound and by how much. */
public class PlanInfeasibleException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public PlanInfeasibleException(String message) {
        super(message);
    }
}
