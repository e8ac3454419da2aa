package io.shuttle.kernels.cuda;

import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Whether this process can use CUDA: JCuda's driver library loads (it needs {@code libcuda.so.1},
 * i.e. an NVIDIA driver), {@code cuInit} succeeds and at least one device exists.
 *
 * <p>The answer is computed once per process and kept, because JCuda can try to load its native
 * library only once: after a failed first attempt every later use throws
 * {@code NoClassDefFoundError: Could not initialize class jcuda.driver.JCudaDriver}, which would
 * hide the real reason.
 */
public final class CudaProbe {

    /** The probe's answer: available, or the reason why not. */
    public record Availability(boolean available, int deviceCount, String reason) {
    }

    private CudaProbe() {
    }

    public static Availability availability() {
        return Holder.RESULT;
    }

    /** Short form for tests: {@code assumeTrue(CudaProbe.available(), CudaProbe::reason)}. */
    public static boolean available() {
        return availability().available();
    }

    public static String reason() {
        return availability().reason();
    }

    private static final class Holder {
        static final Availability RESULT = probe();
    }

    private static Availability probe() {
        try {
            int init = JCudaDriver.cuInit(0);
            if (init != CUresult.CUDA_SUCCESS) {
                return new Availability(false, 0, "cuInit failed: " + CUresult.stringFor(init)
                        + " (no usable NVIDIA GPU or driver)");
            }
            int[] count = new int[1];
            int r = JCudaDriver.cuDeviceGetCount(count);
            if (r != CUresult.CUDA_SUCCESS) {
                return new Availability(false, 0, "cuDeviceGetCount failed: " + CUresult.stringFor(r));
            }
            if (count[0] == 0) {
                return new Availability(false, 0, "the CUDA driver reports no device");
            }
            byte[] name = new byte[256];
            CUdevice dev = new CUdevice();
            JCudaDriver.cuDeviceGet(dev, 0);
            JCudaDriver.cuDeviceGetName(name, name.length, dev);
            return new Availability(true, count[0], count[0] + " CUDA device(s), device 0: " + cString(name));
        } catch (Throwable t) {
            // UnsatisfiedLinkError (no libcuda.so.1) or NoClassDefFoundError. JCuda's message
            // carries whole nested stack traces; keep the line that names the missing library.
            return new Availability(false, 0, "the CUDA driver library could not be loaded: " + loadFailure(t));
        }
    }

    private static String loadFailure(Throwable t) {
        String text = String.valueOf(t.getMessage());
        for (String line : text.split("\\R")) {
            int at = line.indexOf("libcuda.so");
            if (at >= 0) {
                return line.substring(at).trim() + " (no NVIDIA driver on this machine)";
            }
        }
        return t.getClass().getSimpleName() + ": " + text.lines().findFirst().orElse("").trim();
    }

    static String cString(byte[] bytes) {
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) {
            n++;
        }
        return new String(bytes, 0, n, java.nio.charset.StandardCharsets.US_ASCII);
    }
}
