package sdtrainer.train;

import sdtrainer.Fixtures;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.StepRange;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.AspectDataset;
import sdtrainer.data.Images;
import sdtrainer.data.SimpleDataset;
import sdtrainer.data.TrainingData;
import sdtrainer.io.Npy;
import sdtrainer.io.Npz;
import sdtrainer.io.TensorData;
import sdtrainer.nn.Noise;
import sdtrainer.pipeline.StableDiffusion;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The training loop on the tiny fixture with datasets the tests generate. */
public class TrainerTest {
    static final Path FIXTURE = Fixtures.TINY_SD15;

    @BeforeAll
    static void fixture() {
        assumeTrue(Files.isDirectory(FIXTURE), "fixture absent");
    }

    /** Four 40x36 images of coloured shapes with captions. */
    public static Path simpleDataset(Path dir, int count) throws IOException {
        Files.createDirectories(dir);
        Color[] colors = {Color.RED, Color.BLUE, Color.GREEN, Color.ORANGE};
        String[] names = {"red", "blue", "green", "orange"};
        for (int i = 0; i < count; i++) {
            BufferedImage img = new BufferedImage(40, 36, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, 40, 36);
            g.setColor(colors[i % 4]);
            if (i % 2 == 0) g.fillOval(6, 4, 28, 28); else g.fillRect(8, 6, 24, 24);
            g.dispose();
            Images.writePng(img, dir.resolve("img" + i + ".png"));
            Files.writeString(dir.resolve("img" + i + ".txt"), "a " + names[i % 4] + (i % 2 == 0 ? " circle" : " square"));
        }
        return dir;
    }

    /** buckets "(32, 16)" x3 and "(16, 16)" x2 with random latents, captions and masks (VAE factor 2). */
    /** One coloured oval on white per {width, height}, as {@code img<i>.png} in {@code raw}; returns {@code raw}. */
    public static Path ovals(Path raw, int[][] sizes) throws IOException {
        Color[] colours = {Color.RED, Color.BLUE, Color.GREEN, Color.ORANGE, Color.CYAN, Color.MAGENTA};
        for (int i = 0; i < sizes.length; i++) {
            BufferedImage img = new BufferedImage(sizes[i][0], sizes[i][1], BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, img.getWidth(), img.getHeight());
            g.setColor(colours[i % colours.length]);
            g.fillOval(2, 2, img.getWidth() - 4, img.getHeight() - 4);
            g.dispose();
            Images.writePng(img, raw.resolve("img" + i + ".png"));
        }
        return raw;
    }

    public static Path bucketDataset(Path dir) throws IOException {
        Files.createDirectories(dir);
        Map<String, List<String>> buckets = new LinkedHashMap<>();
        buckets.put("(32, 16)", List.of("a", "b", "c"));
        buckets.put("(16, 16)", List.of("d", "e"));
        Random r = new Random(5);
        for (var e : buckets.entrySet()) {
            int w = e.getKey().startsWith("(32") ? 32 : 16, h = 16;
            for (String s : e.getValue()) {
                float[] lat = new float[4 * (h / 2) * (w / 2)];
                for (int i = 0; i < lat.length; i++) lat[i] = (float) r.nextGaussian();
                Npy.write(dir.resolve(s + ".npy"), TensorData.ofFloats(new long[] {4, h / 2, w / 2}, lat));
                Files.writeString(dir.resolve(s + ".caption"), "tag_" + s + ", 1girl");
                float[] mask = new float[(h / 2) * (w / 2)];
                java.util.Arrays.fill(mask, 1f);
                Npz.write(dir.resolve(s + ".npz"), List.of(TensorData.ofFloats(new long[] {h / 2, w / 2}, mask)), false);
            }
        }
        new ObjectMapper().writeValue(dir.resolve("buckets.json").toFile(), buckets);
        return dir;
    }

    /** The tests' training options (tiny fixture, 32 px, batch 2, one epoch, seed 42) with {@code extra} laid over them. */
    public static TrainConfig config(Path dataset, Path out, Map<String, Object> extra) {
        Map<String, Object> m = new HashMap<>();
        m.put("model", FIXTURE.toString());
        m.put("dataset", dataset.toString());
        m.put("output", out.resolve("model").toString());
        m.put("image_log", out.resolve("images").toString());
        m.put("resolution", "32");
        m.put("batch_size", 2);
        m.put("epochs", 1);
        m.put("save_n_epochs", 1);
        m.put("lr", "1e-4");
        m.put("seed", 42);
        m.putAll(extra);
        return ConfigLoader.merge(new TrainConfig(), m);
    }

    /** Trains with the dataset the config names (latents of VAE factor 2 with buckets), sampling in 2 steps. */
    public static Trainer.Summary train(TrainConfig cfg, StableDiffusion sd) throws Exception {
        TrainingData data = cfg.useBucket()
                ? new AspectDataset(cfg.dataset().orElseThrow(), cfg.mask(), 2, 4)
                : new SimpleDataset(cfg.dataset().orElseThrow(), cfg.resolution().width(), cfg.resolution().height());
        Trainer t = new Trainer(cfg, sd, data, null, new PrintStream(new ByteArrayOutputStream()), false);
        t.validateOn(HeldOut.of(cfg, data, cfg.seed().orElseThrow(), dir -> new SimpleDataset(dir,
                cfg.resolution().width(), cfg.resolution().height())).orElse(null));
        t.setSampleSteps(2);
        return t.run();
    }

    static List<Double> losses(Path metrics) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<Double> out = new ArrayList<>();
        for (String line : Files.readAllLines(metrics)) {
            var row = json.readTree(line);
            if (row.has("loss")) out.add(row.get("loss").asDouble());
        }
        return out;
    }

    static Map<String, float[]> snapshot(sdtrainer.nn.Module module) {
        Map<String, float[]> out = new LinkedHashMap<>();
        module.namedParameters().forEach((k, p) -> out.put(k, p.get().toFloatArray()));
        return out;
    }

    @Test
    void simpleDatasetRunWritesModelSamplesAndMetricsAndTheModelTrainsOn(@TempDir Path tmp) throws Exception {
        Path ds = simpleDataset(tmp.resolve("ds"), 4);
        TrainConfig cfg = config(ds, tmp, Map.of("epochs", 2));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            Trainer.Summary s = train(cfg, sd);
            assertEquals(4, s.steps());
            assertEquals(2, s.epochs());
        }
        Path model = tmp.resolve("model");
        assertTrue(Files.isRegularFile(model.resolve("unet/diffusion_pytorch_model.safetensors")));
        assertTrue(Files.isRegularFile(model.resolve("metrics.jsonl")), "metrics survive the model swap");
        assertEquals(4, Files.readAllLines(model.resolve("metrics.jsonl")).size());
        for (int e = 1; e <= 2; e++) {
            for (int i = 0; i < 2; i++) {
                assertTrue(Files.isRegularFile(tmp.resolve("images").resolve(String.format("image_log_epoch_%03d_%d.png", e, i))));
            }
        }
        // the saved model loads again and trains on
        TrainConfig again = config(ds, tmp.resolve("second"), Map.of("model", model.toString()));
        try (StableDiffusion sd = StableDiffusion.load(model, ai.djl.Device.cpu())) {
            assertEquals(2, train(again, sd).steps());
        }
    }

    @Test
    void sameSeedGivesTheSameLossesBitForBit(@TempDir Path tmp) throws Exception {
        Path ds = bucketDataset(tmp.resolve("ds"));
        List<List<Double>> runs = new ArrayList<>();
        for (String run : List.of("a", "b")) {
            TrainConfig cfg = config(ds, tmp.resolve(run), Map.of("use_bucket", true, "epochs", 2, "save_n_epochs", 5));
            try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
                train(cfg, sd);
            }
            runs.add(losses(tmp.resolve(run).resolve("model/metrics.jsonl")));
        }
        assertEquals(runs.get(0), runs.get(1));
        assertEquals(6, runs.get(0).size(), "5 samples in buckets of 3 and 2 at minibatch 2: 3 steps per epoch");
    }

    @Test
    void overfittingTwoImagesLowersTheLoss(@TempDir Path tmp) throws Exception {
        Path ds = simpleDataset(tmp.resolve("ds"), 2);
        TrainConfig cfg = config(ds, tmp, Map.of("epochs", 100, "save_n_epochs", 1000, "lr", "1e-3",
                "step_range", "0.5,0.6"));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            train(cfg, sd);
        }
        List<Double> l = losses(tmp.resolve("model/metrics.jsonl"));
        double first = l.subList(0, 10).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = l.subList(l.size() - 10, l.size()).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
    }

    @Test
    void upOnlyLeavesEveryOtherParameterBitIdentical(@TempDir Path tmp) throws Exception {
        Path ds = bucketDataset(tmp.resolve("ds"));
        TrainConfig cfg = config(ds, tmp, Map.of("use_bucket", true, "up_only", true, "save_n_epochs", 5));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            Map<String, float[]> before = snapshot(sd.unet());
            Map<String, float[]> teBefore = snapshot(sd.textEncoder());
            train(cfg, sd);
            Map<String, float[]> after = snapshot(sd.unet());
            int changed = 0;
            for (String k : before.keySet()) {
                boolean same = java.util.Arrays.equals(before.get(k), after.get(k));
                if (k.startsWith("up_blocks.")) changed += same ? 0 : 1;
                else assertTrue(same, k + " changed under --up_only");
            }
            assertTrue(changed > 0, "no up_blocks parameter changed");
            snapshot(sd.textEncoder()).forEach((k, v) -> assertArrayEquals(teBefore.get(k), v, k));
        }
    }

    @Test
    void trainEncoderWithZeroUnetLrChangesOnlyTheTextEncoder(@TempDir Path tmp) throws Exception {
        Path ds = bucketDataset(tmp.resolve("ds"));
        TrainConfig cfg = config(ds, tmp, Map.of("use_bucket", true, "train_encoder", true, "lr", "1e-3,0",
                "save_n_epochs", 5));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            Map<String, float[]> unet = snapshot(sd.unet());
            Map<String, float[]> te = snapshot(sd.textEncoder());
            train(cfg, sd);
            snapshot(sd.unet()).forEach((k, v) -> assertArrayEquals(unet.get(k), v, k));
            long changed = snapshot(sd.textEncoder()).entrySet().stream()
                    .filter(e -> !java.util.Arrays.equals(te.get(e.getKey()), e.getValue())).count();
            assertTrue(changed > 0, "text encoder did not change");
        }
    }

    @Test
    void minibatchRepeatMultipliesTheBatchAndCountsEpochs(@TempDir Path tmp) throws Exception {
        Path ds = bucketDataset(tmp.resolve("ds"));
        TrainConfig cfg = config(ds, tmp, Map.of("use_bucket", true, "batch_size", 4, "minibatch_repeat", 2,
                "epochs", 4, "save_n_epochs", 2));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            Trainer.Summary s = train(cfg, sd);
            // 4 epochs at repeat 2 = 2 passes of 3 minibatches (of 2 samples, each repeated twice)
            assertEquals(6, s.steps());
            assertEquals(4, s.epochs());
        }
        assertTrue(Files.isRegularFile(tmp.resolve("images/image_log_epoch_002_0.png")));
        assertTrue(Files.isRegularFile(tmp.resolve("images/image_log_epoch_004_0.png")));
    }

    @Test
    void stepRangeBoundsTheTimesteps() {
        TimestepRange r = TimestepRange.of(StepRange.parse("0.2,0.5"), 1000);
        assertEquals(new TimestepRange(200, 500), r);
        List<RunRandom.SampleKey> keys = new ArrayList<>();
        for (int i = 0; i < 20000; i++) keys.add(new RunRandom.SampleKey(0, i, 0));
        long[] t = new BatchDraws(new RunRandom(1), keys, 1).timesteps(r);
        long min = java.util.Arrays.stream(t).min().orElseThrow(), max = java.util.Arrays.stream(t).max().orElseThrow();
        assertEquals(200, min);
        assertEquals(499, max);
        assertEquals(new TimestepRange(0, 1000), TimestepRange.of(StepRange.parse("0,1"), 1000));
    }

    @Test
    void maskMultipliesPredictionAndTargetAndVPredictionChangesTheTarget() throws Exception {
        try (NDManager m = NDManager.newBaseManager(); StableDiffusion sd = StableDiffusion.load(FIXTURE, m.getDevice())) {
            Noise n = new Noise(9);
            NDArray lat = n.gaussian(m, new ai.djl.ndarray.types.Shape(2, 4, 8, 8), m.getDevice());
            NDArray noise = n.gaussian(m, lat.getShape(), m.getDevice());
            NDArray ctx = n.gaussian(m, new ai.djl.ndarray.types.Shape(2, 77, 32), m.getDevice());
            NDArray t = m.create(new long[] {100, 700});
            Noising.Noised noised = Noising.Noised.of(sd.schedule(), lat, noise, t);
            Objective eps = Objective.of(sd.schedule(), false);
            try (var ignored = new sdtrainer.nn.NoGrad()) {
                var plain = eps.compute(sd.unet(), lat, noised, ctx, null, null);
                var ones = eps.compute(sd.unet(), lat, noised, ctx, m.ones(new ai.djl.ndarray.types.Shape(2, 8, 8)), null);
                var zeros = eps.compute(sd.unet(), lat, noised, ctx, m.zeros(new ai.djl.ndarray.types.Shape(2, 8, 8)), null);
                assertEquals(plain.loss().getFloat(), ones.loss().getFloat());
                assertEquals(0f, zeros.loss().getFloat());
                // a mask on one half only: the loss is the masked half's squared error over all elements
                NDArray half = m.zeros(new ai.djl.ndarray.types.Shape(2, 8, 8));
                half.set(new ai.djl.ndarray.index.NDIndex(":, :4, :"), 1f);
                float masked = eps.compute(sd.unet(), lat, noised, ctx, half, null).loss().getFloat();
                float expected = plain.prediction().sub(noise).get(":, :, :4, :").square().sum().getFloat() / (2 * 4 * 8 * 8);
                assertEquals(expected, masked, 1e-6);
                // a graded mask weights each position: 0.25 on one half scales its squared error by 1/16
                NDArray graded = m.ones(new ai.djl.ndarray.types.Shape(2, 8, 8));
                graded.set(new ai.djl.ndarray.index.NDIndex(":, 4:, :"), 0.25f);
                NDArray diff2 = plain.prediction().sub(noise).square();
                float weighted = (diff2.get(":, :, :4, :").sum().getFloat() + diff2.get(":, :, 4:, :").sum().getFloat() / 16)
                        / (2 * 4 * 8 * 8);
                assertEquals(weighted, eps.compute(sd.unet(), lat, noised, ctx, graded, null).loss().getFloat(), 1e-6);
                var v = Objective.of(sd.schedule(), true).compute(sd.unet(), lat, noised, ctx, null, null);
                assertArrayEquals(sd.schedule().velocity(lat, noise, t).toFloatArray(), v.target().toFloatArray());
                assertArrayEquals(noise.toFloatArray(), plain.target().toFloatArray());
            }
        }
    }

    @Test
    void badSamplesAreListedByFileOrSkipped(@TempDir Path tmp) throws Exception {
        Path ds = bucketDataset(tmp.resolve("ds"));
        Files.delete(ds.resolve("b.caption"));
        Npy.write(ds.resolve("c.npy"), TensorData.ofFloats(new long[] {4, 8, 8}, new float[256]));
        Files.writeString(ds.resolve("d.npz"), "not a zip");
        Files.write(ds.resolve("e.npy"), new byte[] {(byte) 0x93, 'N', 'U', 'M'});
        AspectDataset data = new AspectDataset(ds, true, 2, 4);
        List<String> problems = data.problems();
        assertEquals(4, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("b.caption") && problems.get(0).contains("missing caption"), problems.get(0));
        assertTrue(problems.get(1).contains("c.npy") && problems.get(1).contains("does not match its bucket"), problems.get(1));
        assertTrue(problems.get(2).contains("d.npz"), problems.get(2));
        assertTrue(problems.get(3).contains("e.npy"), problems.get(3));

        TrainConfig fail = config(ds, tmp.resolve("fail"), Map.of("use_bucket", true, "mask", true));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            IOException e = assertThrows(IOException.class, () -> train(fail, sd));
            for (String stem : List.of("b.caption", "c.npy", "d.npz", "e.npy")) assertTrue(e.getMessage().contains(stem), e.getMessage());
            assertFalse(Files.exists(tmp.resolve("fail/model/metrics.jsonl")), "nothing trained");

            TrainConfig skip = config(ds, tmp.resolve("skip"), Map.of("use_bucket", true, "mask", true, "on_bad_sample", "skip"));
            Trainer.Summary s = train(skip, sd);
            assertEquals(4, s.skippedSamples());
            assertEquals(1, s.steps(), "only sample a is left");
        }
    }

    @Test
    void stemsThatLeaveTheDatasetAreRejected(@TempDir Path tmp) throws Exception {
        Path ds = bucketDataset(tmp.resolve("ds"));
        new ObjectMapper().writeValue(ds.resolve("buckets.json").toFile(), Map.of("(16, 16)", List.of("d", "../escape")));
        List<String> problems = new AspectDataset(ds, false, 2, 4).problems();
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).contains("../escape") && problems.get(0).contains("leave the dataset directory"), problems.get(0));
    }

    @Test
    void gradientCheckpointingTrainsTheSameAsThePlainPath(@TempDir Path tmp) throws Exception {
        Path ds = bucketDataset(tmp.resolve("ds"));
        List<List<Double>> runs = new ArrayList<>();
        for (boolean ck : new boolean[] {false, true}) {
            Path out = tmp.resolve("ck-" + ck);
            TrainConfig cfg = config(ds, out, Map.of("use_bucket", true, "epochs", 2, "save_n_epochs", 5,
                    "gradient_checkpointing", ck));
            try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
                train(cfg, sd);
            }
            runs.add(losses(out.resolve("model/metrics.jsonl")));
        }
        assertEquals(runs.get(0).get(0), runs.get(1).get(0), "the first forward is identical");
        for (int i = 1; i < runs.get(0).size(); i++) {
            assertEquals(runs.get(0).get(i), runs.get(1).get(i), 1e-5 * runs.get(0).get(i), "step " + (i + 1));
        }
    }

    static Trainer.Summary trainNetwork(TrainConfig cfg, StableDiffusion sd, sdtrainer.network.Network network) throws Exception {
        TrainingData data = cfg.useBucket()
                ? new AspectDataset(cfg.dataset().orElseThrow(), cfg.mask(), 2, 4)
                : new SimpleDataset(cfg.dataset().orElseThrow(), cfg.resolution().width(), cfg.resolution().height());
        Trainer t = new Trainer(cfg, sd, data, network, new PrintStream(new ByteArrayOutputStream()), false);
        t.setSampleSteps(2);
        return t.run();
    }

    @Test
    void loraTrainsOnlyTheNetworkAndWritesAKohyaFileThatResumes(@TempDir Path tmp) throws Exception {
        Path ds = simpleDataset(tmp.resolve("ds"), 4);
        TrainConfig cfg = config(ds, tmp, Map.of("lora", 4, "lr", "1e-3", "train_encoder", true));
        Path file = tmp.resolve("model.safetensors");
        Map<String, float[]> trained;
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            Map<String, float[]> unet = snapshot(sd.unet());
            Map<String, float[]> te = snapshot(sd.textEncoder());
            var net = sdtrainer.network.NetworkFactory.create(sd, "lora", 4, 1.0, 4, false, true, sd.manager(), 42);
            net.attach();
            trainNetwork(cfg, sd, net);
            snapshot(sd.unet()).forEach((k, v) -> assertArrayEquals(unet.get(k), v, k));
            snapshot(sd.textEncoder()).forEach((k, v) -> assertArrayEquals(te.get(k), v, k));
            trained = new LinkedHashMap<>();
            for (var e : net.unetParameters().entrySet()) trained.put(e.getKey(), e.getValue().toFloatArray());
        }
        assertTrue(Files.isRegularFile(file));
        try (sdtrainer.io.SafeTensors st = sdtrainer.io.SafeTensors.open(file)) {
            assertTrue(st.names().stream().anyMatch(n -> n.startsWith("lora_unet_") && n.endsWith(".lora_up.weight")));
            assertTrue(st.names().stream().anyMatch(n -> n.startsWith("lora_te_text_model_encoder_layers_0_self_attn_q_proj")));
            assertEquals("networks.lora", st.metadata().get("ss_network_module"));
            assertEquals("4", st.metadata().get("ss_network_dim"));
            assertTrue(st.metadata().containsKey("sshs_model_hash"));
        }
        List<String> metrics = Files.readAllLines(tmp.resolve("model/metrics.jsonl"));
        assertTrue(metrics.get(metrics.size() - 1).contains("\"weight_means\":{\"lora_up\""), metrics.get(metrics.size() - 1));
        assertTrue(Files.isRegularFile(tmp.resolve("model/report.html")));

        // --resume_lora: the network starts from the saved weights
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            var net = sdtrainer.network.NetworkFactory.create(sd, "lora", 4, 1.0, 4, false, true, sd.manager(), 7);
            net.loadWeights(file);
            for (var e : net.unetParameters().entrySet()) assertArrayEquals(trained.get(e.getKey()), e.getValue().toFloatArray(), e.getKey());
        }
    }

    @Test
    void ehTrainsInBucketModeAndWritesEhKeys(@TempDir Path tmp) throws Exception {
        Path ds = bucketDataset(tmp.resolve("ds"));
        TrainConfig cfg = config(ds, tmp, Map.of("use_bucket", true, "network", "eh", "eh_groups", 4, "lr", "1e-3"));
        try (StableDiffusion sd = StableDiffusion.load(FIXTURE, ai.djl.Device.cpu())) {
            var net = sdtrainer.network.NetworkFactory.create(sd, "eh", 0, 1.0, 4, false, false, sd.manager(), 42);
            net.attach();
            assertEquals(3, trainNetwork(cfg, sd, net).steps());
        }
        try (sdtrainer.io.SafeTensors st = sdtrainer.io.SafeTensors.open(tmp.resolve("model.safetensors"))) {
            assertTrue(st.names().stream().allMatch(n -> n.startsWith("EH_unet_") && n.endsWith(".linear.weight")), st.names().toString());
        }
    }
}
