package sdtrainer.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.LibUtils;
import sdtrainer.AllocatorLaunch;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the PyTorch engine for a command: offline unless the user says otherwise, with the requested
 * intra-op thread count, on the requested device. Every command that computes goes through here, so
 * the engine line in the log is written once per run and always the same way.
 */
public final class EngineSetup {

    private static final Logger LOG = LoggerFactory.getLogger(EngineSetup.class);

    /** DJL's cache folder for bundled natives: {@code 2.7.1-20250812-cpu-linux-x86_64}. */
    private static final Pattern BUNDLED_DIR =
            Pattern.compile("\\d+(?:\\.\\d+)*(?:-\\d{8})?-(.+)-(?:linux|osx|win)-(?:x86_64|aarch64)");
    private static final int MAX_THREADS = 1024;
    private static final Pattern CUDA = Pattern.compile("cuda(?::(\\d{1,3}))?");

    private EngineSetup() {
    }

    /**
     * Loads the engine and resolves the device.
     *
     * @param device {@code cpu}, {@code cuda} or {@code cuda:N}; empty picks the first GPU when the engine has one
     * @param threads intra-op threads; 0 picks {@link #defaultCpuThreads} on CPU and keeps the engine's default on GPU
     * @throws IllegalArgumentException when a GPU is requested that the engine does not have, or over 1024 threads
     */
    public static EngineInfo start(Optional<String> device, int threads) {
        // libgomp allocates every thread's state up front: 2^31 threads abort the JVM ("Out of memory allocating")
        if (threads > MAX_THREADS) {
            throw new IllegalArgumentException("--threads " + threads + " is more than " + MAX_THREADS
                    + "; give the number of cores to use, or 0 for the default");
        }
        // The natives ship inside the jar; never reach for the network unless asked to.
        if (System.getProperty("ai.djl.offline") == null && System.getenv("DJL_OFFLINE") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        Engine engine = Engine.getEngine("PyTorch");
        Path libraryPath = Path.of(LibUtils.getLibtorchPath());
        String flavor = flavor(libraryPath, System.getenv("PYTORCH_FLAVOR"));
        int gpuCount = engine.getGpuCount();
        Device resolved = device.isPresent()
                ? resolveDevice(device.get(), gpuCount, engine.getVersion(), flavor)
                : gpuCount > 0 ? Device.gpu(0) : Device.cpu();
        if (threads > 0 || !resolved.isGpu()) {
            JniUtils.setNumThreads(threads > 0 ? threads : defaultCpuThreads());
        }
        EngineInfo info = new EngineInfo(engine.getVersion(), flavor, libraryPath, resolved,
                JniUtils.getNumThreads(), JniUtils.getNumInteropThreads());
        LOG.info("{}, allocator {}", info, AllocatorLaunch.preloaded(System.getenv("LD_PRELOAD")).orElse("glibc"));
        return info;
    }

    /**
     * Intra-op threads on CPU when none are asked for: one per physical core, as torch takes by default (SMT
     * siblings share a core's vector units), at most the CPUs this process may use, at least 1. libtorch's threads
     * spin while they wait for each other, so on a machine where other work takes a core, fewer threads are faster
     * ({@code --threads}). A fixed default (not one measured from the load) keeps a seeded run repeatable, as a
     * different thread count may sum in another order.
     */
    static int defaultCpuThreads(int availableCpus, int physicalCores) {
        int cores = physicalCores > 0 ? physicalCores : availableCpus;
        return Math.max(1, Math.min(availableCpus, cores));
    }

    static int defaultCpuThreads() {
        return defaultCpuThreads(Runtime.getRuntime().availableProcessors(), physicalCores(Path.of("/sys/devices/system/cpu")));
    }

    /**
     * The physical cores under Linux's {@code /sys/devices/system/cpu}: distinct (package, core) pairs of the
     * CPUs that have a topology; 0 where it cannot be read (another OS).
     */
    static int physicalCores(Path cpus) {
        Set<String> cores = new HashSet<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(cpus, "cpu[0-9]*")) {
            for (Path cpu : dirs) {
                Path topology = cpu.resolve("topology");
                if (!Files.isRegularFile(topology.resolve("core_id"))) continue;
                cores.add(Files.readString(topology.resolve("physical_package_id")).trim() + "/"
                        + Files.readString(topology.resolve("core_id")).trim());
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return cores.size();
    }

    /**
     * The native build of a libtorch directory: from DJL's cache folder name for the bundled natives,
     * else from {@code PYTORCH_FLAVOR} (a user-provided {@code PYTORCH_LIBRARY_PATH}).
     */
    static String flavor(Path libraryPath, String flavorVariable) {
        Path name = libraryPath.getFileName();
        Matcher bundled = BUNDLED_DIR.matcher(name == null ? "" : name.toString());
        if (bundled.matches()) {
            return bundled.group(1);
        }
        return flavorVariable == null || flavorVariable.isBlank() ? "unknown" : flavorVariable;
    }

    /**
     * The device named by {@code cpu}, {@code cuda} or {@code cuda:N}, checked against the GPUs the engine sees.
     *
     * @throws IllegalArgumentException naming {@code --device} and what to do instead
     */
    static Device resolveDevice(String spec, int gpuCount, String version, String flavor) {
        if (spec.equals("cpu")) {
            return Device.cpu();
        }
        Matcher cuda = CUDA.matcher(spec);
        if (!cuda.matches()) {
            throw new IllegalArgumentException("--device '" + spec + "' is not a device; give cpu, cuda or cuda:N");
        }
        int index = cuda.group(1) == null ? 0 : Integer.parseInt(cuda.group(1));
        if (gpuCount == 0) {
            throw new IllegalArgumentException("--device " + spec + ": the engine (PyTorch " + version + ", flavor "
                    + flavor + ") sees no GPU; set PYTORCH_LIBRARY_PATH to a libtorch " + version
                    + "+cu128 lib/ directory and PYTORCH_FLAVOR=cu128, or use --device cpu");
        }
        if (index >= gpuCount) {
            throw new IllegalArgumentException("--device " + spec + ": the engine sees " + gpuCount
                    + " GPU(s); give cuda:0 to cuda:" + (gpuCount - 1));
        }
        return Device.gpu(index);
    }
}
