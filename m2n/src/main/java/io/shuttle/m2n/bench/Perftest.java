package io.shuttle.m2n.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code ucx_perftest -t tag_lat} (package ucx-utils) on loopback as the raw-UCX ceiling:
 * a server and a client process, same size, same transport selection as the m2n run. Returns
 * the median one-way latency in microseconds (a round trip is twice that).
 */
final class Perftest {
    private Perftest() {
    }

    static OptionalDouble medianOneWayMicros(long size, int iterations, Map<String, String> env, StringBuilder why) {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        } catch (IOException e) {
            why.append("no free port: ").append(e.getMessage());
            return OptionalDouble.empty();
        }
        Process server = null;
        try {
            ProcessBuilder sb = new ProcessBuilder("ucx_perftest", "-p", "" + port).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD);
            sb.environment().putAll(env);
            server = sb.start();
            Thread.sleep(300);
            ProcessBuilder cb = new ProcessBuilder("ucx_perftest", "127.0.0.1", "-p", "" + port, "-t", "tag_lat",
                    "-s", "" + size, "-n", "" + iterations, "-w", "" + Math.max(10, iterations / 10))
                    .redirectErrorStream(true);
            cb.environment().putAll(env);
            Process client = cb.start();
            String finalLine = null;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(client.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    if (l.startsWith("Final:")) {
                        finalLine = l;
                    }
                }
            }
            if (!client.waitFor(120, TimeUnit.SECONDS)) {
                client.destroyForcibly();
                why.append("ucx_perftest did not finish in 120 s");
                return OptionalDouble.empty();
            }
            if (finalLine == null) {
                why.append("ucx_perftest printed no 'Final:' line (exit ").append(client.exitValue()).append(')');
                return OptionalDouble.empty();
            }
            List<String> f = List.of(finalLine.trim().split("\\s+"));
            return OptionalDouble.of(Double.parseDouble(f.get(2)));
        } catch (IOException e) {
            why.append("ucx_perftest not runnable (install ucx-utils): ").append(e.getMessage());
            return OptionalDouble.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return OptionalDouble.empty();
        } finally {
            if (server != null) {
                server.destroyForcibly();
            }
        }
    }
}
