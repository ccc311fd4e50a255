package sdtrainer.cli;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs of the root command that pass validation and so start the engine. */
class TrainCommandRunTest {

    @TempDir
    Path dir;

    private List<String> required;

    @BeforeEach
    void paths() throws IOException {
        Path model = Files.createDirectories(dir.resolve("model/unet")).getParent();
        Path dataset = Files.createDirectories(dir.resolve("data"));
        required = List.of("--model", model.toString(), "--dataset", dataset.toString(),
                "--output", dir.resolve("out/run").toString(), "--image_log", dir.resolve("out/images").toString());
    }

    private CommandRun run(String... more) {
        String[] args = new String[required.size() + more.length];
        required.toArray(args);
        System.arraycopy(more, 0, args, required.size(), more.length);
        return CommandRun.of(args);
    }

    @Test
    void dryRunPrintsTheResolvedConfigWhichReadsBackUnchanged() throws IOException {
        CommandRun first = run("--lr", "1e-5,1e-4", "--lora", "8", "--device", "cpu", "--dry_run");
        assertEquals(0, first.exitCode(), first.err());
        assertTrue(first.out().contains("lr: \"1e-5,1e-4\"\n"), first.out());
        assertTrue(first.out().contains("lora: 8\n"), first.out());
        assertTrue(first.out().contains("device: cpu\n"), first.out());
        assertEquals("", first.err());

        Path saved = Files.writeString(dir.resolve("resolved.yaml"), first.out());
        CommandRun again = CommandRun.of("--config", saved.toString(), "--dry_run");
        assertEquals(0, again.exitCode(), again.err());
        assertEquals(first.out(), again.out());
    }

    @Test
    void aRunOnABrokenModelDirectoryNamesWhatIsMissing() {
        CommandRun run = run("--device", "cpu");
        assertEquals(1, run.exitCode());
        assertTrue(run.err().startsWith("sd-trainer: ") && run.err().contains("missing vae/"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void aRealRunOnTheTinyFixtureTrainsAndSaves() throws IOException {
        Path fixture = Fixtures.TINY_SD15;
        Assumptions.assumeTrue(Files.isDirectory(fixture), "fixture absent");
        Path data = sdtrainer.train.TrainerTest.simpleDataset(dir.resolve("images"), 2);
        Path out = dir.resolve("out/full");
        CommandRun run = CommandRun.of("--model", fixture.toString(), "--dataset", data.toString(), "--output", out.toString(),
                "--image_log", dir.resolve("out/log").toString(), "--resolution", "32", "--batch_size", "2",
                "--epochs", "1", "--seed", "1", "--device", "cpu");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("sd-trainer: done: 1 steps, 1 epochs"), run.err());
        assertTrue(Files.isRegularFile(out.resolve("unet/diffusion_pytorch_model.safetensors")));
        assertTrue(Files.isRegularFile(dir.resolve("out/log/image_log_epoch_001_0.png")));
    }

    @Test
    void cudaOnAnEngineWithoutGpuIsAUsageError() {
        Assumptions.assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "this machine has a GPU");
        CommandRun run = run("--device", "cuda", "--dry_run");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("sd-trainer: --device cuda: the engine (PyTorch 2.7.1, flavor cpu) sees no GPU;"),
                run.err());
        assertEquals("", run.out());
    }
}
