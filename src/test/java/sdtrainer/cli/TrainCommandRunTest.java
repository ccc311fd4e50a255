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
        Path data = sdtrainer.train.TrainerTest.simpleDataset(dir.resolve("images"), 2);
        Path out = dir.resolve("out/run");
        String[] args = {"--model", Fixtures.TINY_SD15.toString(), "--dataset", data.toString(), "--output", out.toString(),
            "--image_log", dir.resolve("out/images").toString(), "--resolution", "32"};
        Assumptions.assumeTrue(Files.isDirectory(Fixtures.TINY_SD15), "fixture absent");
        CommandRun first = CommandRun.of(concat(args, "--lr", "1e-5,1e-4", "--lora", "8", "--device", "cpu", "--dry_run"));
        assertEquals(0, first.exitCode(), first.err());
        assertTrue(first.out().contains("lr: \"1e-5,1e-4\"\n"), first.out());
        assertTrue(first.out().contains("lora: 8\n"), first.out());
        assertTrue(first.out().contains("device: cpu\n"), first.out());
        assertTrue(first.out().contains("log_dir: " + out.resolve("logs") + "\n"), first.out());
        assertTrue(first.out().contains("# prompt: unset, sample images use captions of the last batch\n"), first.out());
        assertEquals("", first.err());

        Path saved = Files.writeString(dir.resolve("resolved.yaml"), first.out());
        CommandRun again = CommandRun.of("--config", saved.toString(), "--dry_run");
        assertEquals(0, again.exitCode(), again.err());
        assertEquals(first.out(), again.out());
        // the default device resolves to what the engine has, named as --device takes it
        CommandRun auto = CommandRun.of(concat(args, "--dry_run"));
        assertTrue(auto.out().contains("device: " + (Engine.getEngine("PyTorch").getGpuCount() > 0 ? "cuda:0" : "cpu") + "\n"),
                auto.out());
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void aRunOnABrokenModelDirectoryNamesWhatIsMissing() {
        CommandRun run = run("--device", "cpu");
        assertEquals(2, run.exitCode(), "a broken --model is an input error");
        assertTrue(run.err().startsWith("sd-trainer: --model ") && run.err().contains("missing vae/"), run.err());
        assertEquals(1, run.err().lines().count(), run.err());
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

    @Test
    void aValidationSplitLogsValLossAndATooSmallOneIsAnInputError() throws IOException {
        Path fixture = Fixtures.TINY_SD15;
        Assumptions.assumeTrue(Files.isDirectory(fixture), "fixture absent");
        Path data = sdtrainer.train.TrainerTest.simpleDataset(dir.resolve("images"), 4);
        Path out = dir.resolve("out/val");
        String[] args = {"--model", fixture.toString(), "--dataset", data.toString(), "--output", out.toString(),
            "--image_log", dir.resolve("out/log").toString(), "--resolution", "32", "--batch_size", "2",
            "--epochs", "1", "--seed", "1", "--device", "cpu"};
        CommandRun tooSmall = CommandRun.of(concat(args, "--validation_split", "0.1", "--dry_run"));
        assertEquals(2, tooSmall.exitCode(), tooSmall.err());
        assertEquals("sd-trainer: --validation_split 0.1 of 4 sample(s) in " + data + " holds out 0; both training and "
                + "validation need at least one sample", tooSmall.err().strip());
        CommandRun run = CommandRun.of(concat(args, "--validation_split", "0.25"));
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.err().contains("done: 2 steps"), "3 samples train in steps of 2: " + run.err());
        String metrics = Files.readString(out.resolve("metrics.jsonl"));
        assertTrue(metrics.contains("\"val_loss\":") && metrics.contains("\"val_samples\":1"), metrics);
    }
}
