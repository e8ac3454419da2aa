package io.shuttle.serve;

import java.net.InetSocketAddress;

/** host:port strings from the plan. */
final class Addresses {
    private Addresses() {
    }

    static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    /** Where to listen for {@code advertised}: the given bind host, on the advertised port. */
    static InetSocketAddress bind(String bindHost, String advertised) {
        return new InetSocketAddress(bindHost, parse(advertised).getPort());
    }
}
