package sdtrainer.train;

import ai.djl.Device;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.config.TrainConfig;
import sdtrainer.config.ConfigLoader;
import sdtrainer.data.AspectDataset;
import sdtrainer.data.SimpleDataset;
import sdtrainer.data.TrainingData;
import sdtrainer.io.SafeTensors;
import sdtrainer.network.Network;
import sdtrainer.network.NetworkFactory;
import sdtrainer.pipeline.StableDiffusion;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * --save_state / --resume: a run stopped after some step and resumed gives the uninterrupted run's per-step losses,
 * trained tensors, EMA and sample images bit for bit; gradient accumulation equals the big batch.
 */
class ResumeTest {

    @BeforeAll
    static void fixture() {
        assumeTrue(Files.isDirectory(TrainerTest.FIXTURE), "fixture absent");
    }

    /** Trains; when {@code stopAtLine} > 0, asks the loop to stop once metrics.jsonl has that many rows. */
    static Trainer.Summary train(TrainConfig cfg, int stopAtLine) throws Exception {
        try (StableDiffusion sd = StableDiffusion.load(TrainerTest.FIXTURE, Device.cpu())) {
            Network net = null;
            if (cfg.lora() > 0) {
                net = NetworkFactory.create(sd, "lora", cfg.lora(), cfg.loraAlpha(), 4, false, cfg.trainEncoder(),
                        sd.manager(), 42);
                net.attach();
            }
            TrainingData data = cfg.useBucket() ? new AspectDataset(cfg.dataset().orElseThrow(), cfg.mask(), 2, 4)
                    : new SimpleDataset(cfg.dataset().orElseThrow(), cfg.resolution().width(), cfg.resolution().height());
            Trainer t = new Trainer(cfg, sd, data, net, new PrintStream(new ByteArrayOutputStream()), false);
            t.setSampleSteps(2);
            Thread watcher = null;
            if (stopAtLine > 0) {
                Path metrics = cfg.output().orElseThrow().resolve("metrics.jsonl");
                watcher = new Thread(() -> {
                    try {
                        while (!Thread.currentThread().isInterrupted()) {
                            if (Files.exists(metrics) && Files.readAllLines(metrics).size() >= stopAtLine) {
                                t.requestStop();
                                return;
                            }
                            Thread.sleep(2);
                        }
                    } catch (IOException | InterruptedException e) {
                        // the run is over
                    }
                });
                watcher.start();
            }
            try {
                return t.run();
            } finally {
                if (watcher != null) watcher.interrupt();
            }
        }
    }

    static Map<String, ByteBuffer> tensors(Path file) throws IOException {
        Map<String, ByteBuffer> out = new TreeMap<>();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String n : st.names()) {
                ByteBuffer b = st.bytes(n);
                ByteBuffer copy = ByteBuffer.allocate(b.remaining());
                copy.put(b.duplicate()).flip();
                out.put(n, copy);
            }
        }
        return out;
    }

    /** Runs uninterrupted, then stopped after the 3rd logged step and resumed; returns both output roots. */
    private static Path[] stopAndResume(Path tmp, Path dataset, Map<String, Object> options) throws Exception {
        Map<String, Object> opts = new HashMap<>(options);
        opts.put("save_state", true);
        Path whole = tmp.resolve("whole"), parts = tmp.resolve("parts");
        Trainer.Summary all = train(TrainerTest.config(dataset, whole, opts), 0);
        Trainer.Summary first = train(TrainerTest.config(dataset, parts, opts), 3);
        assertTrue(first.interrupted() && first.steps() < all.steps(), "stopped at " + first.steps() + " of " + all.steps());
        Map<String, Object> again = new HashMap<>(opts);
        again.put("resume", SavePoints.stateDir(parts.resolve("model")).toString());
        Trainer.Summary rest = train(TrainerTest.config(dataset, parts, again), 0);
        assertEquals(all.steps(), rest.steps());
        assertEquals(all.epochs(), rest.epochs());
        assertEquals(all.lossEma(), rest.lossEma());
        assertEquals(TrainerTest.losses(whole.resolve("model/metrics.jsonl")),
                TrainerTest.losses(parts.resolve("model/metrics.jsonl")), "per-step losses of the stopped + resumed run");
        String last = String.format("image_log_epoch_%03d_", all.epochs());
        List<Path> images;
        try (var files = Files.list(whole.resolve("images"))) {
            images = files.filter(f -> f.getFileName().toString().startsWith(last)).toList();
        }
        assertFalse(images.isEmpty(), "the last save drew samples");
        for (Path image : images) {
            assertArrayEquals(Files.readAllBytes(image), Files.readAllBytes(parts.resolve("images").resolve(image.getFileName())),
                    image.getFileName().toString());
        }
        return new Path[] {whole, parts};
    }

    @Test
    void loraWithAccumulationAndEmaResumesBitForBitFromAStopInsideAnEpoch(@TempDir Path tmp) throws Exception {
        Path ds = TrainerTest.simpleDataset(tmp.resolve("ds"), 6);
        // 6 images, 2 per step in micro-batches of 1: 3 steps per epoch, 9 steps; a stop after step 3, 4 or 5
        Path[] runs = stopAndResume(tmp, ds, Map.of("lora", 4, "lr", "1e-3", "batch_size", 1,
                "gradient_accumulation_steps", 2, "ema_decay", 0.8, "ema_warmup", true, "epochs", 3,
                "save_n_epochs", 2, "train_encoder", true));
        for (String file : List.of("model.safetensors", "model-ema.safetensors")) {
            assertEquals(tensors(runs[0].resolve(file)), tensors(runs[1].resolve(file)), file);
        }
        assertNotEquals(tensors(runs[0].resolve("model.safetensors")), tensors(runs[0].resolve("model-ema.safetensors")),
                "the EMA differs from the trained weights");
    }

    /** Every optimizer's state (moments, 8-bit blocks and scales, Prodigy's d, Adafactor's factors) resumes exactly. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"adamw8bit", "lion", "lion8bit", "prodigy", "adafactor", "sgd"})
    void everyOptimizerResumesBitForBit(String optimizer, @TempDir Path tmp) throws Exception {
        // 3 images, one per step: 6 steps, stopped after the 3rd
        Path ds = TrainerTest.simpleDataset(tmp.resolve("ds"), 3);
        Map<String, Object> opts = new HashMap<>(Map.of("lora", 4, "lr", optimizer.equals("prodigy") ? "1" : "1e-3",
                "batch_size", 1, "epochs", 2, "save_n_epochs", 2, "optimizer", optimizer));
        if (optimizer.equals("sgd")) opts.put("optimizer_args", "momentum=0.9,nesterov=True");
        Path[] runs = stopAndResume(tmp, ds, opts);
        assertEquals(tensors(runs[0].resolve("model.safetensors")), tensors(runs[1].resolve("model.safetensors")), optimizer);
    }

    @Test
    void fullFineTuneOnBucketsWithRepeatAndClippingResumesBitForBit(@TempDir Path tmp) throws Exception {
        Path ds = TrainerTest.bucketDataset(tmp.resolve("ds"));
        // 4 epochs at repeat 2 = 2 passes of 3 steps
        Path[] runs = stopAndResume(tmp, ds, Map.of("use_bucket", true, "mask", true, "batch_size", 4,
                "minibatch_repeat", 2, "epochs", 4, "save_n_epochs", 2, "max_grad_norm", 0.05));
        String unet = "model/unet/diffusion_pytorch_model.safetensors";
        assertEquals(tensors(runs[0].resolve(unet)), tensors(runs[1].resolve(unet)));
        List<String> rows = Files.readAllLines(runs[0].resolve("model/metrics.jsonl"));
        assertTrue(rows.get(0).contains("\"grad_norm\":"), rows.get(0));
    }

    /** An optimizer that only records the gradients it is given. */
    private static final class GradientProbe implements sdtrainer.train.optim.Optimizer {
        final List<sdtrainer.train.optim.ParamGroup> groups;
        final Map<String, float[]> grads = new TreeMap<>();

        GradientProbe(List<sdtrainer.train.optim.ParamGroup> groups) {
            this.groups = groups;
        }

        public List<sdtrainer.train.optim.ParamGroup> groups() { return groups; }
        public double lr(String group) { return 0; }
        public void setLr(String group, double lr) {}
        public void step() {
            groups.forEach(g -> g.params().forEach((k, p) -> {
                try (ai.djl.ndarray.NDArray grad = p.getGradient()) {
                    grads.put(k, grad.toFloatArray());
                }
            }));
        }
        public void zeroGrad() {
            groups.forEach(g -> g.params().values().forEach(p ->
                    ai.djl.pytorch.jni.JniUtils.zeroGrad((ai.djl.pytorch.engine.PtNDArray) p)));
        }
        public Map<String, ai.djl.ndarray.NDArray> stateDict(ai.djl.ndarray.NDManager m) { return Map.of(); }
        public void loadStateDict(Map<String, ai.djl.ndarray.NDArray> dict) {}
        public long stateBytes() { return 0; }
    }

    @Test
    void accumulatedMicroBatchesGiveTheBigBatchsGradientAndLoss(@TempDir Path tmp) throws Exception {
        Path ds = TrainerTest.simpleDataset(tmp.resolve("ds"), 4);
        TrainConfig cfg = TrainerTest.config(ds, tmp, Map.of("batch_size", 2, "gradient_accumulation_steps", 2,
                "train_encoder", true));
        SimpleDataset data = new SimpleDataset(ds, 32, 32);
        List<sdtrainer.data.Sample> samples = new java.util.ArrayList<>();
        for (String k : data.epoch(new java.util.Random(3), 4).get(0)) samples.add(data.load(k));
        List<Map<String, float[]>> grads = new java.util.ArrayList<>();
        List<Float> losses = new java.util.ArrayList<>();
        try (StableDiffusion sd = StableDiffusion.load(TrainerTest.FIXTURE, Device.cpu())) {
            Trainables t = Trainables.of(cfg, sd, null);
            for (int micro : new int[] {4, 2}) {
                GradientProbe probe = new GradientProbe(t.groups());
                TrainStep step = new TrainStep(new TrainStep.Parts(sd, t, sdtrainer.data.CaptionRecipe.none(), new SdConditioning(sd, true),
                        new Noising(sd.schedule(), new TimestepRange(0, 1000), List.of(), null), Objective.of(sd.schedule(), false), probe,
                        new GradClip(0), null, new RunRandom(5), 1, false), 0);
                StepBatch batch = StepBatch.split(0, 0, samples, micro);
                assertEquals(4 / micro, batch.micro().size());
                losses.add(step.run(batch, StepTimer.OFF).loss());
                grads.add(probe.grads);
            }
        }
        assertEquals(losses.get(0), losses.get(1), 1e-6 * losses.get(0), "the step's loss");
        double maxDiff = 0, maxGrad = 0;
        for (String k : grads.get(0).keySet()) {
            float[] a = grads.get(0).get(k), b = grads.get(1).get(k);
            for (int j = 0; j < a.length; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
                maxGrad = Math.max(maxGrad, Math.abs(a[j]));
            }
        }
        assertTrue(maxGrad > 1e-3, "gradients flow: " + maxGrad);
        assertTrue(maxDiff <= 1e-5 * maxGrad, "big batch vs accumulated micro-batches: max gradient difference "
                + maxDiff + " of max " + maxGrad);
    }

    @Test
    void accumulationTrainsLikeTheBigBatch(@TempDir Path tmp) throws Exception {
        Path ds = TrainerTest.simpleDataset(tmp.resolve("ds"), 8);
        List<List<Double>> losses = new java.util.ArrayList<>();
        int i = 0;
        for (Map<String, Object> o : List.of(Map.<String, Object>of("batch_size", 4),
                Map.<String, Object>of("batch_size", 2, "gradient_accumulation_steps", 2))) {
            Map<String, Object> opts = new HashMap<>(o);
            opts.put("lr", "1e-4");
            opts.put("epochs", 2);
            opts.put("save_n_epochs", 10);
            Path out = tmp.resolve("run" + i++);
            TrainConfig cfg = TrainerTest.config(ds, out, opts);
            try (StableDiffusion sd = StableDiffusion.load(TrainerTest.FIXTURE, Device.cpu())) {
                Trainer t = new Trainer(cfg, sd, new SimpleDataset(ds, 32, 32), null,
                        new PrintStream(new ByteArrayOutputStream()), false);
                t.setSampleSteps(1);
                assertEquals(4, t.run().steps(), "8 samples per 4 = 2 optimizer steps per epoch");
            }
            losses.add(TrainerTest.losses(out.resolve("model/metrics.jsonl")));
        }
        // AdamW normalises each update, so float rounding in near-zero gradients grows in the weights; the
        // per-step losses show the runs stay together (the gradient test above checks the exact equivalence)
        for (int s = 0; s < 4; s++) assertEquals(losses.get(0).get(s), losses.get(1).get(s), 1e-4 * losses.get(0).get(s));
    }

    @Test
    void aStateIsRefusedForAnotherRankOrDatasetAndMoreEpochsExtendTheRun(@TempDir Path tmp) throws Exception {
        Path ds = TrainerTest.simpleDataset(tmp.resolve("ds"), 4);
        Map<String, Object> opts = new HashMap<>(Map.of("lora", 4, "save_state", true, "epochs", 1));
        train(TrainerTest.config(ds, tmp.resolve("a"), opts), 0);
        String state = SavePoints.stateDir(tmp.resolve("a/model")).toString();

        Map<String, Object> rank = new HashMap<>(opts);
        rank.putAll(Map.of("lora", 8, "resume", state));
        var e = assertThrows(TrainingState.StateMismatchException.class,
                () -> train(TrainerTest.config(ds, tmp.resolve("a"), rank), 0));
        assertTrue(e.getMessage().contains("lora rank 4") && e.getMessage().contains("lora rank 8"), e.getMessage());

        TrainerTest.simpleDataset(tmp.resolve("ds2"), 5);
        Map<String, Object> other = new HashMap<>(opts);
        other.put("resume", state);
        e = assertThrows(TrainingState.StateMismatchException.class,
                () -> train(TrainerTest.config(tmp.resolve("ds2"), tmp.resolve("a"), other), 0));
        assertTrue(e.getMessage().contains("1 sample(s) added [img4]"), e.getMessage());

        Map<String, Object> longer = new HashMap<>(other);
        longer.put("epochs", 3);
        Trainer.Summary s = train(TrainerTest.config(ds, tmp.resolve("a"), longer), 0);
        assertEquals(6, s.steps(), "2 more epochs of 2 steps after the first");
        assertEquals(6, Files.readAllLines(tmp.resolve("a/model/metrics.jsonl")).size());
    }

    @Test
    void theRunsConfigIsTheStatesConfig(@TempDir Path tmp) throws Exception {
        Path ds = TrainerTest.simpleDataset(tmp.resolve("ds"), 2);
        TrainConfig cfg = TrainerTest.config(ds, tmp, new LinkedHashMap<>(Map.of("save_state", true)));
        train(cfg, 0);
        Path dir = SavePoints.stateDir(tmp.resolve("model"));
        TrainingState.Loaded loaded = TrainingState.read(dir);
        assertEquals(ConfigLoader.toYaml(cfg), loaded.configYaml());
        assertEquals(1, loaded.state().step());
        assertEquals(new TrainingState.Position(1, 0), loaded.state().next());
        assertEquals(42, loaded.state().seed());
        assertTrue(Files.isRegularFile(dir.resolve(TrainingState.OPTIMIZER)));
    }
}
