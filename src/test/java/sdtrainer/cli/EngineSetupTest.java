package sdtrainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class EngineSetupTest {

    @Test
    void flavorOfBundledNatives() {
        assertEquals("cpu", EngineSetup.flavor(Path.of("/root/.djl.ai/pytorch/2.7.1-20250812-cpu-linux-x86_64"), null));
        assertEquals("cu128", EngineSetup.flavor(Path.of("/cache/pytorch/2.7.1-cu128-linux-x86_64"), "cpu"));
        assertEquals("cpu-precxx11", EngineSetup.flavor(Path.of("/c/2.7.1-cpu-precxx11-linux-aarch64"), null));
    }

    @Test
    void flavorOfUserLibtorchComesFromTheVariable() {
        assertEquals("cu128", EngineSetup.flavor(Path.of("/opt/libtorch/lib"), "cu128"));
        assertEquals("unknown", EngineSetup.flavor(Path.of("/opt/libtorch/lib"), null));
        assertEquals("unknown", EngineSetup.flavor(Path.of("/opt/libtorch/lib"), " "));
    }

    @Test
    void devicesByName() {
        assertEquals(Device.cpu(), EngineSetup.resolveDevice("cpu", 0, "2.7.1", "cpu"));
        assertEquals(Device.gpu(0), EngineSetup.resolveDevice("cuda", 1, "2.7.1", "cu128"));
        assertEquals(Device.gpu(1), EngineSetup.resolveDevice("cuda:1", 2, "2.7.1", "cu128"));
    }

    @Test
    void cudaWithoutGpuSaysHowToGetOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EngineSetup.resolveDevice("cuda", 0, "2.7.1", "cpu"));
        assertEquals("--device cuda: the engine (PyTorch 2.7.1, flavor cpu) sees no GPU; set PYTORCH_LIBRARY_PATH to a"
                + " libtorch 2.7.1+cu128 lib/ directory and PYTORCH_FLAVOR=cu128, or use --device cpu", e.getMessage());
    }

    @Test
    void gpuIndexBeyondTheEnginesGpus() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EngineSetup.resolveDevice("cuda:2", 2, "2.7.1", "cu128"));
        assertTrue(e.getMessage().startsWith("--device cuda:2: the engine sees 2 GPU(s); give cuda:0 to cuda:1"), e.getMessage());
    }

    @Test
    void startAppliesTheThreadCount() {
        EngineInfo before = EngineSetup.start(Optional.of("cpu"), 0);
        int target = before.intraOpThreads() == 1 ? 2 : 1;
        try {
            EngineInfo info = EngineSetup.start(Optional.of("cpu"), target);
            assertEquals(target, info.intraOpThreads());
            assertEquals(Device.cpu(), info.device());
            assertEquals("2.7.1", info.version());
            assertEquals("cpu", info.flavor(), "the test classpath carries the CPU natives");
        } finally {
            // Other tests share this JVM's engine.
            JniUtils.setNumThreads(before.intraOpThreads());
        }
    }

    @Test
    void noThreadCountOnCpuTakesOneThreadPerPhysicalCore() {
        EngineSetup.start(Optional.of("cpu"), 0); // loads the natives
        int before = JniUtils.getNumThreads();
        try {
            JniUtils.setNumThreads(1);
            EngineInfo info = EngineSetup.start(Optional.of("cpu"), 0);
            assertEquals(EngineSetup.defaultCpuThreads(), info.intraOpThreads());
            assertEquals(8, EngineSetup.defaultCpuThreads(16, 8), "SMT pairs count once");
            assertEquals(2, EngineSetup.defaultCpuThreads(2, 32), "no more than the CPUs this process may use");
            assertEquals(4, EngineSetup.defaultCpuThreads(4, 0), "all CPUs where the topology is unknown");
            assertEquals(1, EngineSetup.defaultCpuThreads(1, 1));
        } finally {
            JniUtils.setNumThreads(before);
        }
    }

    @Test
    void physicalCoresAreTheDistinctPackageCorePairs(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String[][] cpus = {{"0", "0"}, {"0", "1"}, {"0", "0"}, {"0", "1"}, {"1", "0"}}; // 2 SMT pairs, one core on package 1
        for (int i = 0; i < cpus.length; i++) {
            java.nio.file.Path t = java.nio.file.Files.createDirectories(dir.resolve("cpu" + i).resolve("topology"));
            java.nio.file.Files.writeString(t.resolve("physical_package_id"), cpus[i][0] + "\n");
            java.nio.file.Files.writeString(t.resolve("core_id"), cpus[i][1] + "\n");
        }
        java.nio.file.Files.createDirectories(dir.resolve("cpufreq"));
        assertEquals(3, EngineSetup.physicalCores(dir));
        assertEquals(0, EngineSetup.physicalCores(dir.resolve("missing")));
    }
}
