package sdtrainer.cli;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.SafeTensors;
import sdtrainer.train.TrainerTest;

/** SIGTERM (what Ctrl-C and most job schedulers send) stops a training process after its step, and it saves. */
class ShutdownSaveTest {
    private static final Path FIXTURE = Fixtures.TINY_SD15;

    @Test
    void sigtermStopsAfterTheStepAndSavesTheLora(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE), "fixture absent");
        Path dataset = TrainerTest.simpleDataset(dir.resolve("data"), 4);
        Path output = dir.resolve("out/lora");
        Path metrics = output.resolve("metrics.jsonl");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Dai.djl.offline=true", "sdtrainer.Main",
                "--model", FIXTURE.toString(), "--dataset", dataset.toString(), "--output", output.toString(),
                "--image_log", dir.resolve("out/images").toString(), "--resolution", "32", "--batch_size", "2",
                "--epochs", "100000", "--save_n_epochs", "100000", "--lora", "4", "--lr", "1e-4", "--seed", "1",
                "--device", "cpu"));
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("log.txt").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            while (lines(metrics) < 3) {
                assertTrue(p.isAlive(), "the run ended early:\n" + Files.readString(dir.resolve("log.txt")));
                assertTrue(System.nanoTime() < deadline, "no training steps within 180 s");
                Thread.sleep(200);
            }
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the process did not exit after SIGTERM");
        } finally {
            p.destroyForcibly();
        }
        String log = Files.readString(dir.resolve("log.txt"));
        assertTrue(log.contains("stopped: "), log);
        assertEquals(143, p.exitValue(), "128 + SIGTERM, as the README says\n" + log);
        assertFalse(Files.exists(dir.resolve("out/lora.lock")), "the lock is released before the JVM exits\n" + log);
        Path lora = dir.resolve("out/lora.safetensors");
        assertTrue(Files.isRegularFile(lora), log);
        try (SafeTensors file = SafeTensors.open(lora)) {
            assertTrue(file.names().stream().anyMatch(n -> n.endsWith(".lora_up.weight")), "LoRA tensors in " + lora);
            assertEquals(String.valueOf(lines(metrics)), file.metadata().get("ss_steps"), "saved after the last logged step");
        }
        try (var images = Files.list(dir.resolve("out/images"))) {
            assertTrue(images.anyMatch(f -> f.getFileName().toString().startsWith("image_log_epoch_")), "sample images");
        }
    }

    private static long lines(Path file) throws IOException {
        if (!Files.exists(file)) return 0;
        try (var l = Files.lines(file)) {
            return l.count();
        }
    }
}
