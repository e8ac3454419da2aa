package io.shuttle.kernels;

import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.kernels.cuda.CudaBackend;
import io.shuttle.kernels.cuda.CudaProbe;

import java.util.Locale;

/**
 * Chooses a {@link Backend} from a device name, once, when a process is wired:
 * {@code "cpu"} → {@link CpuBackend} with the given threads, {@code "cuda"} or {@code "cuda:N"} →
 * {@link CudaBackend} on device N (0 by default).
 */
public final class Backends {
    private Backends() {
    }

    /**
     * @param device  "cpu", "cuda" or "cuda:N"
     * @param threads CPU worker threads (used by "cpu" only)
     * @throws IllegalArgumentException for an unknown device name
     * @throws IllegalStateException    when CUDA is asked for but no driver or GPU is available
     */
    public static Backend create(String device, int threads) {
        String d = device == null ? "" : device.trim().toLowerCase(Locale.ROOT);
        if (d.equals("cpu")) {
            return new CpuBackend(threads);
        }
        if (d.equals("cuda") || d.startsWith("cuda:")) {
            int ordinal = d.equals("cuda") ? 0 : parseOrdinal(device, d.substring("cuda:".length()));
            CudaProbe.Availability cuda = CudaProbe.availability();
            if (!cuda.available()) {
                throw new IllegalStateException("--device " + device + " was asked for but no CUDA driver/GPU is"
                        + " available: " + cuda.reason() + "; use --device cpu");
            }
            return new CudaBackend(new CudaBackend.Options(ordinal, false));
        }
        throw new IllegalArgumentException("unknown device '" + device + "': use cpu, cuda or cuda:N");
    }

    private static int parseOrdinal(String device, String digits) {
        try {
            int n = Integer.parseInt(digits);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("unknown device '" + device + "': the CUDA device must be cuda:N with N"
                + " a device number (0, 1, ...)");
    }
}
