package io.shuttle.m2n;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void autoChoosesUcxWhereItLoads() {
        M2nNode n = node(config(1).withTransport(TransportKind.AUTO));
        assertTrue(n.transportName().startsWith("ucx"), "auto picked " + n.transportName() + " although UCX loads");
    }
}
