package sdtrainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.OutputLock;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TensorData;
import sdtrainer.train.TrainerTest;

/** Bad inputs to every command: one line naming the file or option, exit code 2, nothing loaded in vain. */
class InputErrorsTest {
    @TempDir
    Path dir;

    private Path model;
    private Path data;

    @BeforeEach
    void inputs() throws IOException {
        model = Fixtures.require("tiny-sd15");
        data = TrainerTest.simpleDataset(dir.resolve("images"), 2);
    }

    private CommandRun train(Path dataset, String... more) {
        String[] base = {"--model", model.toString(), "--dataset", dataset.toString(), "--output", dir.resolve("out/run").toString(),
            "--image_log", dir.resolve("out/images").toString(), "--resolution", "32", "--batch_size", "2", "--epochs", "1",
            "--seed", "1", "--device", "cpu"};
        return CommandRun.of(TrainCommandRunTest.concat(base, more));
    }

    private static void assertOneLine(CommandRun run, String start) {
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().startsWith(start), run.err());
        assertEquals(1, run.err().lines().count(), run.err());
    }

    @Test
    void aSecondRunOnTheSameOutputIsRefused() throws IOException {
        Files.createDirectories(dir.resolve("out"));
        try (OutputLock held = OutputLock.acquire(dir.resolve("out/run"))) {
            CommandRun run = train(data, "--lora", "4");
            assertOneLine(run, "sd-trainer: --output " + dir.resolve("out/run") + ": another run is writing this output (pid ");
        }
    }

    @Test
    void aRankAboveTheWidestLayerIsRefusedBeforeLoading() {
        // the tiny UNet's widest adapted layer has min(in, out) = 64 (ff.net.2: 256 -> 64 in the 64-channel blocks)
        assertOneLine(train(data, "--lora", "100000", "--dry_run"), "sd-trainer: --lora 100000 is larger than the widest "
                + "layer the LoRA wraps (64 features, lora_unet_");
        assertEquals(0, train(data, "--lora", "64", "--dry_run").exitCode());
    }

    @Test
    void theRankBudgetCountsGradientsAndAdamState() throws IOException {
        EngineSetup.start(java.util.Optional.of("cpu"), 0);
        var unet = new sdtrainer.model.unet.UNet2DConditionModel(sdtrainer.model.unet.UNetConfig.from(
                sdtrainer.pipeline.ModelDirectory.config(model, "unet")));
        LoraBudget b = LoraBudget.of(unet, null, false, unet.parameterCount());
        assertEquals(64, b.widest());
        assertEquals(b.perRank() * 8 * 16, b.trainingBytes(8));
        String problem = b.problem(8, b.trainingBytes(8) + b.modelBytes() - 1, "this machine").orElseThrow();
        assertTrue(problem.startsWith("--lora 8 needs about "), problem);
        assertTrue(b.problem(8, b.trainingBytes(8) + b.modelBytes(), "this machine").isEmpty());
    }

    @Test
    void nonFiniteWeightsAreNamed() throws IOException {
        EngineSetup.start(java.util.Optional.of("cpu"), 0);
        try (var sd = sdtrainer.pipeline.StableDiffusion.load(model, ai.djl.Device.cpu())) {
            assertEquals(List.of(), ModelInputs.nonFinite(Map.of("unet", sd.unet())));
            var w = sd.unet().namedParameters().get("conv_in.weight");
            float[] v = w.get().toFloatArray();
            v[5] = Float.NaN;
            w.set(sd.manager().create(v, w.shape()));
            var b = sd.unet().namedParameters().get("conv_in.bias");
            float[] bv = b.get().toFloatArray();
            bv[0] = Float.NEGATIVE_INFINITY;
            b.set(sd.manager().create(bv, b.shape()));
            assertEquals(List.of("unet/conv_in.bias", "unet/conv_in.weight"),
                    ModelInputs.nonFinite(Map.of("unet", sd.unet())).stream().sorted().toList());
        }
    }

    @Test
    void resumingALoraOfAnotherRankSaysBothRanks() throws IOException {
        Path file = dir.resolve("rank8.safetensors");
        SafeTensorsWriter.write(file, Map.of("lora_unet_x.lora_down.weight", TensorData.ofFloats(new long[] {8, 32}, new float[256]),
                "lora_unet_x.lora_up.weight", TensorData.ofFloats(new long[] {32, 8}, new float[256])), Map.of());
        assertOneLine(train(data, "--lora", "4", "--resume_lora", file.toString(), "--dry_run"),
                "sd-trainer: --resume_lora " + file + ": rank 8 in the file, --lora 4 given; give --lora 8");
    }

    @Test
    void dryRunChecksCaptionsAndBucketsAsTheRunDoes() throws IOException {
        Files.delete(data.resolve("img1.txt"));
        CommandRun noCaption = train(data, "--dry_run");
        assertEquals(2, noCaption.exitCode(), noCaption.err());
        assertTrue(noCaption.err().contains(data.resolve("img1.txt") + ": missing caption"), noCaption.err());
        assertEquals("", noCaption.out());

        CommandRun skip = train(data, "--dry_run", "--on_bad_sample", "skip");
        assertEquals(0, skip.exitCode(), skip.err());
        assertTrue(skip.err().startsWith("sd-trainer: warning: will skip " + data.resolve("img1.txt")), skip.err());

        assertOneLine(train(data, "--use_bucket", "--dry_run"),
                "sd-trainer: --dataset " + data.resolve("buckets.json") + ": missing (run `preprocess bucketing` first)");
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertOneLine(train(empty, "--dry_run"), "sd-trainer: --dataset " + empty + ": no images");
    }

    @Test
    void keepTokensBeyondTheCaptionsIsAnInputError() {
        // the captions are one tag each ("a red circle")
        assertOneLine(train(data, "--shuffle_caption", "--keep_tokens", "2", "--dry_run"),
                "sd-trainer: --dataset " + data + ": 2 caption(s) have fewer tags than --keep_tokens 2");
        assertOneLine(train(data, "--shuffle_caption", "--keep_tokens", "2", "--lora", "4"),
                "sd-trainer: --dataset " + data + ": 2 caption(s) have fewer tags than --keep_tokens 2");
        assertEquals(0, train(data, "--shuffle_caption", "--keep_tokens", "1", "--dry_run").exitCode());
    }

    @Test
    void aNonUtf8CaptionStopsTheRunBeforeStep1AndSkipTrainsWithoutIt() throws IOException {
        Files.write(data.resolve("img0.txt"), new byte[] {'a', ' ', (byte) 0xFF, 'b'});
        CommandRun fail = train(data, "--lora", "4");
        assertEquals(2, fail.exitCode(), fail.err());
        assertTrue(fail.err().contains(data.resolve("img0.txt") + ": not UTF-8 text: byte 0xFF at offset 2"), fail.err());
        assertFalse(Files.exists(dir.resolve("out/run.safetensors")));

        CommandRun skip = train(data, "--lora", "4", "--on_bad_sample", "skip");
        assertEquals(0, skip.exitCode(), skip.err());
        assertTrue(skip.err().contains("sd-trainer: done: 1 steps, 1 epochs, loss EMA "), skip.err());
        assertTrue(skip.err().contains(", 1 samples skipped, "), skip.err());
    }

    @Test
    void brokenModelConfigsNameTheirFile() throws IOException {
        Path copy = dir.resolve("model");
        try (Stream<Path> all = Files.walk(model)) {
            for (Path p : (Iterable<Path>) all.filter(p -> !p.toString().contains("reference"))::iterator) {
                Files.copy(p, copy.resolve(model.relativize(p).toString()));
            }
        }
        Path vaeConfig = copy.resolve("vae/config.json");
        Files.delete(vaeConfig);
        model = copy;
        assertOneLine(train(data, "--dry_run"), "sd-trainer: " + vaeConfig + ": missing");
        Files.copy(Fixtures.path("tiny-sd15", "vae", "config.json"), vaeConfig);
        Path unetConfig = copy.resolve("unet/config.json");
        Files.writeString(unetConfig, Files.readString(unetConfig).replaceFirst("\"block_out_channels\": \\[[^]]*]",
                "\"block_out_channels\": \"32,64\""));
        assertOneLine(train(data, "--dry_run"), "sd-trainer: " + unetConfig + ": describes no unet this tool can build (");
    }

    @Test
    void subcommandsNameAMissingModelOrLoraInOneLineWithExitCode2() {
        Path absent = dir.resolve("absent");
        for (String[] args : List.of(
                new String[] {"sample", "--model", absent.toString(), "--prompt", "x", "--output", dir.toString(), "--device", "cpu"},
                new String[] {"bench", "--model", absent.toString(), "--device", "cpu"},
                new String[] {"merge-lora", "--model", absent.toString(), "--lora", absent.toString(), "--output", dir.toString()})) {
            CommandRun run = CommandRun.of(args);
            assertEquals(2, run.exitCode(), run.err());
            assertEquals(1, run.err().lines().count(), run.err());
            assertTrue(run.err().contains(" --" + (args[0].equals("merge-lora") ? "lora " : "model ") + absent + ": "), run.err());
        }
        CommandRun lora = CommandRun.of("sample", "--model", model.toString(), "--prompt", "x", "--output", dir.toString(),
                "--lora", absent.toString(), "--device", "cpu");
        assertOneLine(lora, "sd-trainer sample: --lora " + absent + ": no such file");
    }

    @Test
    void aTypoIsNamedEvenWhenARequiredOptionIsMissing() {
        CommandRun run = CommandRun.of("sample", "--promt", "x", "--model", "m");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("Missing required option: '--output=DIR'"), run.err());
        assertTrue(run.err().contains("Unknown option: '--promt'") || run.err().contains("Unknown options: '--promt'"), run.err());
        assertTrue(run.err().contains("--prompt,") || run.err().contains("--prompt\n") || run.err().contains("--prompts"), run.err());
    }

    @Test
    void kohyaOptionNamesPointToOurs() {
        CommandRun run = CommandRun.of("--network_dim", "8", "--learning_rate=1e-4", "--train_batch_size", "2");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("sd-trainer: --network_dim is the name in kohya's sd-scripts; here it is --lora\n"), run.err());
        assertTrue(run.err().contains("sd-trainer: --learning_rate is the name in kohya's sd-scripts; here it is --lr\n"), run.err());
        assertTrue(run.err().contains("here it is --batch_size"), run.err());
        assertFalse(run.err().contains("Possible solutions: --network"), run.err());
    }
}
