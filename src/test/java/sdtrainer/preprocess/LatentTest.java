package sdtrainer.preprocess;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.data.Images;
import sdtrainer.io.Npy;
import sdtrainer.nn.NoGrad;
import sdtrainer.pipeline.StableDiffusion;

/** The latent cache on the tiny SD1.5 fixture (VAE factor 2, 4 latent channels). */
class LatentTest {
    static final Path FIXTURE = Fixtures.TINY_SD15;
    static StableDiffusion sd;

    @TempDir
    Path dir;
    private final StringWriter log = new StringWriter();

    @BeforeAll
    static void load() throws IOException {
        assumeTrue(Files.isDirectory(FIXTURE), "tiny-sd15 fixture absent");
        sd = StableDiffusion.load(FIXTURE, Device.cpu());
    }

    @AfterAll
    static void close() {
        if (sd != null) {
            sd.close();
        }
    }

    static BufferedImage noiseImage(int width, int height, long seed) {
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, r.nextInt(1 << 24));
            }
        }
        return img;
    }

    /** buckets (32, 16): a, b, c and (16, 16): d, as bucketing writes them. */
    private Path bucketed() throws IOException {
        Path data = Files.createDirectories(dir.resolve("data"));
        Map<String, List<String>> buckets = new LinkedHashMap<>();
        buckets.put("(32, 16)", List.of("a", "b", "c"));
        buckets.put("(16, 16)", List.of("d"));
        long seed = 1;
        for (Map.Entry<String, List<String>> bucket : buckets.entrySet()) {
            int width = bucket.getKey().startsWith("(32") ? 32 : 16;
            for (String stem : bucket.getValue()) {
                Images.writePng(noiseImage(width, 16, seed++), data.resolve(stem + ".png"));
            }
        }
        new ObjectMapper().writeValue(data.resolve("buckets.json").toFile(), buckets);
        return data;
    }

    private Progress.Summary run(Path data, Path out, Latent.Options options) throws Exception {
        return Latent.run(data, out, sd.vae(), sd.manager(), options, 2, new Progress("latent", new PrintWriter(log, true), false));
    }

    private Path bytesFile(byte[] npy) throws IOException {
        return Files.write(Files.createTempFile(dir, "copy", ".npy"), npy);
    }

    private static Latent.Options options(int batch, Latent.Mode mode) {
        return new Latent.Options(batch, 0, null, mode, 7);
    }

    @Test
    void encodesEveryBucketToUnscaledMeansOfTheRightShape() throws Exception {
        Path data = bucketed();
        Progress.Summary summary = run(data, data, options(2, Latent.Mode.MEAN));
        assertEquals(4, summary.processed(), log.toString());
        assertArrayEquals(new long[] {4, 8, 16}, Npy.read(data.resolve("a.npy")).shape());
        assertArrayEquals(new long[] {4, 8, 8}, Npy.read(data.resolve("d.npy")).shape());

        // Batched encoding equals encoding the image on its own.
        float[] expected;
        try (NDManager m = sd.manager().newSubManager(); NoGrad ignored = new NoGrad()) {
            float[] chw = Images.toCHW(Images.read(data.resolve("c.png")));
            expected = sd.vae().encode(m.create(chw, new Shape(1, 3, 16, 32))).mean().toFloatArray();
        }
        float[] actual = Npy.read(data.resolve("c.npy")).toFloats();
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5, "element " + i);
        }
    }

    @Test
    void resumeSkipsDoneStemsAndSamplesDoNotDependOnBatching() throws Exception {
        Path data = bucketed();
        Path out = dir.resolve("latents");
        assertEquals(4, run(data, out, options(3, Latent.Mode.SAMPLE)).processed());
        byte[] a = Files.readAllBytes(out.resolve("a.npy"));
        byte[] b = Files.readAllBytes(out.resolve("b.npy"));

        Progress.Summary again = run(data, out, options(3, Latent.Mode.SAMPLE));
        assertEquals(0, again.processed());
        assertEquals(4, again.skipped());

        Files.delete(out.resolve("b.npy"));
        Files.writeString(out.resolve("c.npy"), "not an array");
        Progress.Summary resumed = run(data, out, options(1, Latent.Mode.SAMPLE));
        assertEquals(2, resumed.processed());
        assertEquals(2, resumed.skipped());
        assertArrayEquals(a, Files.readAllBytes(out.resolve("a.npy")));
        // Same stem and seed give the same noise; only the kernels' rounding differs between batch sizes.
        float[] before = Npy.read(bytesFile(b)).toFloats();
        float[] after = Npy.read(out.resolve("b.npy")).toFloats();
        for (int i = 0; i < before.length; i++) {
            assertEquals(before[i], after[i], 1e-4, "element " + i);
        }
        assertArrayEquals(new long[] {4, 8, 16}, Npy.read(out.resolve("c.npy")).shape());

        Path means = dir.resolve("means");
        run(data, means, options(4, Latent.Mode.MEAN));
        assertFalse(Arrays.equals(Npy.read(means.resolve("a.npy")).toFloats(), Npy.read(out.resolve("a.npy")).toFloats()));
    }

    @Test
    void startAndEndSelectImagesInBucketOrder() throws Exception {
        Path data = bucketed();
        Path out = dir.resolve("part");
        Progress.Summary summary = run(data, out, new Latent.Options(10, 1, 3, Latent.Mode.MEAN, 0));
        assertEquals(2, summary.processed());
        assertTrue(Files.exists(out.resolve("b.npy")) && Files.exists(out.resolve("c.npy")));
        assertFalse(Files.exists(out.resolve("a.npy")) || Files.exists(out.resolve("d.npy")));
    }

    @Test
    void bucketedImagesThatAreMissingOrResizedFailByName() throws Exception {
        Path data = bucketed();
        Files.delete(data.resolve("b.png"));
        Images.writePng(noiseImage(16, 16, 9), data.resolve("c.png"));
        Progress.Summary summary = run(data, data, options(10, Latent.Mode.MEAN));
        assertEquals(2, summary.processed());
        assertEquals(2, summary.failed());
        assertTrue(log.toString().contains("b.png: missing"), log.toString());
        assertTrue(log.toString().contains("c.png: is 16x16, expected 32x16"), log.toString());
    }

    @Test
    void aFolderWithoutBucketsIsBatchedBySize() throws Exception {
        Path data = Files.createDirectories(dir.resolve("plain"));
        Images.writePng(noiseImage(16, 16, 1), data.resolve("s1.png"));
        Images.writePng(noiseImage(16, 16, 2), data.resolve("s2.png"));
        Images.writePng(noiseImage(24, 16, 3), data.resolve("wide.png"));
        Images.writePng(noiseImage(15, 16, 4), data.resolve("odd.png"));
        Files.writeString(data.resolve("s1.txt"), "a caption, not an image");
        Progress.Summary summary = run(data, data, options(10, Latent.Mode.MEAN));
        assertEquals(3, summary.processed());
        assertEquals(1, summary.failed());
        assertTrue(log.toString().contains("odd.png: size 15x16 is not divisible by the VAE's downsampling factor 2"),
                log.toString());
        assertArrayEquals(new long[] {4, 8, 12}, Npy.read(data.resolve("wide.npy")).shape());
    }

    @Test
    void malformedBucketsJsonFailsTheRun() throws Exception {
        Path data = Files.createDirectories(dir.resolve("bad"));
        Files.writeString(data.resolve("buckets.json"), "{\"32x16\": [\"a\"]}");
        IOException e = assertThrows(IOException.class, () -> run(data, data, options(1, Latent.Mode.MEAN)));
        assertTrue(e.getMessage().contains("buckets.json") && e.getMessage().contains("32x16"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Latent.Options(0, 0, null, Latent.Mode.MEAN, 0));
        assertThrows(IllegalArgumentException.class, () -> new Latent.Options(1, 5, 2, Latent.Mode.MEAN, 0));
    }
}
