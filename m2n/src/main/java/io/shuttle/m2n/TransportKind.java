package io.shuttle.m2n;

/** Which transport a node uses. */
public enum TransportKind {
    /** UCX where libucx loads, otherwise tcp (the reason is logged). */
    AUTO,
    UCX,
    TCP;

    /** Parses "auto", "ucx" or "tcp" (any case). */
    public static TransportKind parse(String s) {
        for (TransportKind k : values()) {
            if (k.name().equalsIgnoreCase(s.trim())) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown transport '" + s + "'; use auto, ucx or tcp");
    }
}
