package sdtrainer.cli;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import sdtrainer.train.TrainingState;

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
        Path lora = dir.resolve("out/lora.safetensors");
        assertTrue(Files.isRegularFile(lora), log);
        try (SafeTensors file = SafeTensors.open(lora)) {
            assertTrue(file.names().stream().anyMatch(n -> n.endsWith(".lora_up.weight")), "LoRA tensors in " + lora);
            assertEquals(String.valueOf(lines(metrics)), file.metadata().get("ss_steps"), "saved after the last logged step");
        }
        try (var images = Files.list(dir.resolve("out/images"))) {
            assertTrue(images.anyMatch(f -> f.getFileName().toString().startsWith("image_log_")), "sample images");
        }
    }

    /** The training process's command line: LoRA rank 4 on {@code data}, 32 px, batch 2, seed 1, with {@code extra}. */
    private static List<String> trainCommand(Path dir, Path dataset, String run, String... extra) {
        List<String> c = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Dai.djl.offline=true", "sdtrainer.Main",
                "--model", FIXTURE.toString(), "--dataset", dataset.toString(), "--output", dir.resolve(run + "/lora").toString(),
                "--image_log", dir.resolve(run + "/images").toString(), "--resolution", "32", "--batch_size", "2",
                "--lora", "4", "--lr", "1e-3", "--seed", "1", "--device", "cpu", "--threads", "1"));
        c.addAll(List.of(extra));
        return c;
    }

    private static Process start(List<String> command, Path log) throws IOException {
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(
                ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    private static void waitForRows(Process p, Path metrics, long rows, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (lines(metrics) < rows) {
            assertTrue(p.isAlive(), "the run ended early:\n" + Files.readString(log));
            assertTrue(System.nanoTime() < deadline, "no training steps within 180 s");
            Thread.sleep(20);
        }
    }

    private static void finish(Process p, Path log) throws Exception {
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the run did not finish");
        assertEquals(0, p.exitValue(), Files.readString(log));
    }

    private static List<String> losses(Path metrics) throws IOException {
        return Files.readAllLines(metrics).stream().map(l -> l.replaceAll(".*\"loss\":([^,]+),.*", "$1")).toList();
    }

    @Test
    void aRunStoppedBySigtermAtARandomStepAndResumedIsTheUninterruptedRun(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE), "fixture absent");
        Path dataset = TrainerTest.simpleDataset(dir.resolve("data"), 6);
        // 3 steps per epoch, 9 steps; saves after epoch 2 and at the end
        String[] opts = {"--epochs", "3", "--save_n_epochs", "2", "--save_state"};
        Path log = dir.resolve("log.txt");
        Process whole = start(trainCommand(dir, dataset, "whole", opts), log);
        int stopAfter = 1 + new java.util.Random().nextInt(7);
        Process parts = start(trainCommand(dir, dataset, "parts", opts), log);
        Path metrics = dir.resolve("parts/lora/metrics.jsonl");
        try {
            waitForRows(parts, metrics, stopAfter, log);
            parts.destroy(); // SIGTERM
            assertTrue(parts.waitFor(180, TimeUnit.SECONDS), "no exit after SIGTERM");
            finish(whole, log);
        } finally {
            parts.destroyForcibly();
            whole.destroyForcibly();
        }
        long stopped = lines(metrics);
        assertTrue(stopped < 9, "SIGTERM after row " + stopAfter + " came too late: " + stopped + " steps");
        List<String> resume = new ArrayList<>(List.of(opts));
        resume.addAll(List.of("--resume", dir.resolve("parts/lora-state").toString()));
        Process rest = start(trainCommand(dir, dataset, "parts", resume.toArray(String[]::new)), log);
        try {
            finish(rest, log);
        } finally {
            rest.destroyForcibly();
        }
        String why = "stopped after " + stopped + " steps (SIGTERM after row " + stopAfter + ")";
        assertEquals(losses(dir.resolve("whole/lora/metrics.jsonl")), losses(metrics), why);
        try (SafeTensors a = SafeTensors.open(dir.resolve("whole/lora.safetensors"));
             SafeTensors b = SafeTensors.open(dir.resolve("parts/lora.safetensors"))) {
            assertEquals(a.names(), b.names());
            for (String n : a.names()) assertEquals(a.bytes(n), b.bytes(n), n + ", " + why);
        }
        for (int i = 0; i < 2; i++) {
            String image = "images/image_log_epoch_003_" + i + ".png";
            assertArrayEquals(Files.readAllBytes(dir.resolve("whole").resolve(image)),
                    Files.readAllBytes(dir.resolve("parts").resolve(image)), image + ", " + why);
        }
    }

    @Test
    void aKillDuringStateSavesLeavesALoadableStateThatResumes(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE), "fixture absent");
        Path dataset = TrainerTest.simpleDataset(dir.resolve("data"), 4);
        Path log = dir.resolve("log.txt");
        String[] opts = {"--epochs", "100000", "--save_n_epochs", "100000", "--save_state", "--save_state_every_n_steps", "1"};
        Process p = start(trainCommand(dir, dataset, "run", opts), log);
        Path state = dir.resolve("run/lora-state");
        try {
            waitForRows(p, dir.resolve("run/lora/metrics.jsonl"), 2, log);
            // a state is written after every step: a kill at a random moment often lands inside a save
            Thread.sleep(new java.util.Random().nextInt(400));
            p.destroyForcibly(); // SIGKILL
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        } finally {
            p.destroyForcibly();
        }
        TrainingState.Loaded loaded = TrainingState.read(state);
        assertTrue(loaded.state().step() >= 1, "a complete state of step " + loaded.state().step());
        List<String> resume = new ArrayList<>(List.of("--epochs", String.valueOf(loaded.state().next().pass() + 2),
                "--save_state", "--resume", state.toString()));
        Process rest = start(trainCommand(dir, dataset, "run", resume.toArray(String[]::new)), log);
        try {
            finish(rest, log);
        } finally {
            rest.destroyForcibly();
        }
        assertTrue(TrainingState.read(state).state().step() > loaded.state().step(), Files.readString(log));
    }

    private static long lines(Path file) throws IOException {
        if (!Files.exists(file)) return 0;
        try (var l = Files.lines(file)) {
            return l.count();
        }
    }
}
