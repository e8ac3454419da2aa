package io.shuttle.operator.desired;

/** The two pools of a deployment. */
public enum Role {
    ATTENTION("attention", "attention"),
    EXPERTS("experts", "expert");

    private final String suffix;
    private final String serveRole;

    Role(String suffix, String serveRole) {
        this.suffix = suffix;
        this.serveRole = serveRole;
    }

    /** Name suffix of the role's StatefulSet, Services and PDB. */
    public String suffix() {
        return suffix;
    }

    /** The value of {@code shuttle serve --role} (env {@code SHUTTLE_ROLE}). */
    public String serveRole() {
        return serveRole;
    }
}
