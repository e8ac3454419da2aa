package io.shuttle.m2n;

import org.junit.jupiter.api.BeforeEach;

/** The transport contract over {@code ucx} (skipped where UCX cannot load, except on CI). */
class UcxTransportContractTest extends TransportContract {
    @BeforeEach
    void needUcx() {
        Ucx.requireUcx();
    }

    @Override
    TransportKind kind() {
        return TransportKind.UCX;
    }
}
