package sdtrainer.cli.preprocess;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.config.TrainConfig;
import sdtrainer.train.TrainerTest;
import sdtrainer.data.AspectDataset;
import sdtrainer.io.Npy;
import sdtrainer.io.Npz;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.train.Trainer;

/** bucketing → tagger → latent → create-mask through the commands, then the trainer on the result. */
class PreprocessChainTest {
    static final Path FIXTURES = Fixtures.ROOT;
    static final Path SD = FIXTURES.resolve("tiny-sd15");
    static final Path TAGGER = FIXTURES.resolve("tagger-tiny");
    static final Path CASCADE = FIXTURES.resolve("animeface").resolve("lbpcascade_animeface.xml");

    @TempDir
    Path dir;

    private final CapturedRuns cli = new CapturedRuns();

    private static void assumeFixtures() {
        assumeTrue(Files.isDirectory(SD) && Files.isDirectory(TAGGER) && Files.isRegularFile(CASCADE), "fixtures absent");
    }

    /** Coloured shapes of several aspect ratios. */
    private Path rawImages() throws Exception {
        return sdtrainer.train.TrainerTest.ovals(Files.createDirectories(dir.resolve("raw")), new int[][] {{60, 20}, {40, 40}, {20, 70}, {90, 24}, {36, 36}, {22, 66}});
    }


    @Test
    void theProducedFolderTrainsWithBucketsAndMasks() throws Exception {
        assumeFixtures();
        Path data = dir.resolve("data");
        String d = data.toString();
        assertEquals(0, cli.run(new BucketingCommand(), "-i", rawImages().toString(), "-o", d, "--resolution", "32",
                "--min_length", "16", "--max_length", "64", "--max_ratio", "4"), cli.err());
        assertEquals(0, cli.run(new TaggerCommand(), "-d", d, "-o", d, "--model", TAGGER.toString(), "--format", "caption",
                "--caption_extension", ".caption", "-b", "4", "-p", "2"), cli.err());
        assertTrue(cli.out().contains("general: 6"), cli.out());
        assertEquals(0, cli.run(new LatentCommand(), "-d", d, "-o", d, "-m", SD.toString(), "-b", "2", "--device", "cpu"),
                cli.err());
        assertEquals(0, cli.run(new CreateMaskCommand(), "--path", d, "--output_path", d, "--cascade", CASCADE.toString(),
                "--scale_factor", "2"), cli.err());
        assertTrue(cli.err().contains("latent: 6 processed, 0 skipped, 0 failed in "), cli.err());
        assertTrue(cli.err().contains("create-mask: 6 processed, 0 skipped, 0 failed in "), cli.err());

        // The wide image went to the (64, 16) bucket: latent [4, 8, 32], mask [8, 32].
        assertArrayEquals(new long[] {4, 8, 32}, Npy.read(data.resolve("img0.npy")).shape());
        assertArrayEquals(new long[] {8, 32}, Npz.read(data.resolve("img0.npz")).get("arr_0").shape());

        AspectDataset dataset = new AspectDataset(data, true, 2, 4);
        assertEquals(List.of(), dataset.problems());
        assertEquals(6, dataset.size());

        TrainConfig cfg = TrainerTest.config(data, dir.resolve("run"), Map.of("use_bucket", true, "mask", true));
        try (StableDiffusion sd = StableDiffusion.load(SD, Device.cpu())) {
            Trainer.Summary summary = TrainerTest.train(cfg, sd);
            assertEquals(1, summary.epochs());
            assertTrue(summary.steps() >= 3, "steps " + summary.steps());
            assertEquals(0, summary.skippedSamples());
            assertTrue(Double.isFinite(summary.lossEma()));
        }
    }

    @Test
    void latentLoadsAVaeFolderOnItsOwn() throws Exception {
        assumeFixtures();
        Path raw = rawImages();
        Path data = dir.resolve("data");
        assertEquals(0, cli.run(new BucketingCommand(), "-i", raw.toString(), "-o", data.toString(), "-r", "32",
                "--min_length", "16", "--max_length", "64", "--max_ratio", "4"), cli.err());
        Path full = dir.resolve("full");
        Path vaeOnly = dir.resolve("vae-only");
        assertEquals(0, cli.run(new LatentCommand(), "-d", data.toString(), "-o", full.toString(), "-m", SD.toString(),
                "--mode", "mean", "--device", "cpu"), cli.err());
        assertEquals(0, cli.run(new LatentCommand(), "-d", data.toString(), "-o", vaeOnly.toString(), "-m",
                SD.resolve("vae").toString(), "--mode", "mean", "--device", "cpu"), cli.err());
        assertArrayEquals(Npy.read(full.resolve("img1.npy")).toFloats(), Npy.read(vaeOnly.resolve("img1.npy")).toFloats());

        assertEquals(1, cli.run(new LatentCommand(), "-d", data.toString(), "-o", full.toString(), "-m", TAGGER.toString(),
                "--device", "cpu"));
        assertTrue(cli.err().contains("config.json: missing"), cli.err());
    }

    @Test
    void badOptionsAreUsageErrors() throws Exception {
        String here = dir.toString();
        String missing = dir.resolve("missing").toString();
        assertEquals(2, cli.run(new LatentCommand(), "-d", here, "-o", here, "-m", here, "--mode", "median"));
        assertEquals(2, cli.run(new LatentCommand(), "-d", here, "-o", here, "-m", here, "--batch_size", "0"));
        assertEquals(2, cli.run(new LatentCommand(), "-d", here, "-o", here, "-m", here, "--start", "5", "--end", "2"));
        assertEquals(2, cli.run(new LatentCommand(), "-d", missing, "-o", here, "-m", here));
        assertEquals(2, cli.run(new TaggerCommand(), "-d", here, "-o", here, "--model", here, "--format", "yaml"));
        assertEquals(2, cli.run(new TaggerCommand(), "-d", here, "-o", here, "--model", here, "--threshold", "1.5"));
        assertEquals(2, cli.run(new TaggerCommand(), "-d", here, "-o", here, "--model", here, "--caption_extension", "txt"));
        assertEquals(2, cli.run(new TaggerCommand(), "-d", here, "-o", here, "--model", missing));
        assertEquals(2, cli.run(new CreateMaskCommand(), "--path", here, "--output_path", here, "--scale_factor", "0"));
        assertEquals(2, cli.run(new CreateMaskCommand(), "--path", missing, "--output_path", here));
        assertTrue(cli.err().contains("--mode must be sample or mean") && cli.err().contains("--format must be"),
                cli.err());

        assertEquals(1, cli.run(new CreateMaskCommand(), "--path", here, "--output_path", here, "--cascade",
                dir.resolve("none.xml").toString()));
        assertTrue(cli.err().contains("none.xml: cascade file missing"), cli.err());
        assertEquals(1, cli.run(new TaggerCommand(), "-d", here, "-o", here, "--model", here));
        assertTrue(cli.err().contains("model.onnx: missing"), cli.err());
    }
}
