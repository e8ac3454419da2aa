package io.shuttle.m2n;

/** The transport contract over {@code tcp}. */
class TcpTransportContractTest extends TransportContract {
    @Override
    TransportKind kind() {
        return TransportKind.TCP;
    }
}
