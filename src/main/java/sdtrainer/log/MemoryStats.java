package sdtrainer.log;

import ai.djl.Device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Process and device memory figures for logs and benchmarks. */
public final class MemoryStats {
    private MemoryStats() {}

    /** Current resident set size in MiB (Linux), or -1 where /proc is absent. */
    public static double rssMb() {
        return procStatus("VmRSS:");
    }

    /** Peak resident set size in MiB (Linux), or -1 where /proc is absent. */
    public static double peakRssMb() {
        return procStatus("VmHWM:");
    }

    /** Memory in use on a GPU in MiB (all processes, as cudaMemGetInfo reports it), or -1 on CPU. */
    public static double deviceUsedMb(Device device) {
        if (!device.isGpu()) return -1;
        return ai.djl.util.cuda.CudaUtils.getGpuMemory(device).getCommitted() / (1024.0 * 1024.0);
    }

    private static double procStatus(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
