package io.shuttle.m2n;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.shuttle.m2n.transport.ucx.UcxSupport;
import java.util.Optional;

/** Test helper: UCX tests skip where libucx is missing, but fail on CI (CI=true), which installs it. */
final class Ucx {
    private Ucx() {
    }

    static void requireUcx() {
        Optional<String> why = UcxSupport.unavailableReason();
        if (why.isPresent()) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail("UCX must load on CI (install libucx0): " + why.get());
            }
            assumeTrue(false, "UCX cannot load here: " + why.get());
        }
    }
}
