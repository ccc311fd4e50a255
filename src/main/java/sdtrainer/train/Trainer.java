package sdtrainer.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.config.SavePrecision;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.Images;
import sdtrainer.data.Prefetcher;
import sdtrainer.data.Sample;
import sdtrainer.data.TrainingData;
import sdtrainer.io.DType;
import sdtrainer.log.ConsoleProgress;
import sdtrainer.log.MemoryStats;
import sdtrainer.log.MetricsLog;
import sdtrainer.log.Report;
import sdtrainer.log.Wandb;
import sdtrainer.network.KohyaMetadata;
import sdtrainer.network.LoraNetwork;
import sdtrainer.network.Network;
import sdtrainer.config.ConfigLoader;
import sdtrainer.log.TensorBoardWriter;
import sdtrainer.nn.Checkpointing;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Ops;
import sdtrainer.nn.Noise;
import sdtrainer.nn.Parameter;
import sdtrainer.train.optim.AdamW;
import sdtrainer.train.optim.Optimizer;
import sdtrainer.train.optim.ParamGroup;
import sdtrainer.pipeline.ImageTensors;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.TextToImage;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The training loop: each step runs in its own {@link NDScope} (only parameters and optimizer state outlive it),
 * data is loaded ahead on background threads, and every save point writes the model, sample images and logs.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

    /** The original sd-trainer's negative prompt for sample images. */
    public static final String DEFAULT_NEGATIVE = "worst quality, low quality, medium quality, deleted, lowres, comic, "
            + "bad anatomy,bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, jpeg artifacts, "
            + "signature, watermark, username, blurry";
    static final long SAMPLE_SEED = 4545;
    static final int SAMPLE_STEPS = 30;
    static final float SAMPLE_GUIDANCE = 7.5f;

    /** What a run did. */
    public record Summary(long steps, int epochs, double lossEma, int skippedSamples, double seconds, boolean interrupted) {
        public String summaryLine() {
            return String.format(Locale.ROOT, "%s: %d steps, %d epochs, loss EMA %.4f, %d samples skipped, %.1f s",
                    interrupted ? "stopped" : "done", steps, epochs, lossEma, skippedSamples, seconds);
        }
    }

    private final TrainConfig cfg;
    private final StableDiffusion sd;
    private final TrainingData data;
    private final Network network;
    private final Path output;
    private final Path imageLog;
    private final PrintStream console;
    private final boolean terminal;
    private final AtomicBoolean stopRequested = new AtomicBoolean();
    private int skippedSamples;
    private int sampleSteps = SAMPLE_STEPS;
    private boolean halfFrozen;
    private final TimestepRange timestepRange;

    /**
     * @param network the attached adapter to train (LoRA, EH), or null to train the model itself
     */
    public Trainer(TrainConfig cfg, StableDiffusion sd, TrainingData data, Network network, PrintStream console,
                   boolean terminal) {
        this.cfg = cfg;
        this.sd = sd;
        this.data = data;
        this.network = network;
        // absent only for benchmark runs, which save nothing
        this.output = cfg.output().orElse(null);
        this.imageLog = cfg.imageLog().orElse(null);
        this.console = console;
        this.terminal = terminal;
        this.timestepRange = TimestepRange.of(cfg.stepRange(), sd.schedule().numTrainTimesteps());
    }

    /** Asks the loop to stop after the current step and save (SIGINT / SIGTERM). */
    public void requestStop() {
        stopRequested.set(true);
    }

    /**
     * {@link #run}, with Ctrl-C (SIGINT) or SIGTERM asking the loop to stop after its step; the JVM's exit then
     * waits while the run saves and {@code finish} reports what was done; returns what {@code finish} returns.
     */
    public <T> T runUntilShutdown(java.util.function.Function<Summary, T> finish) throws IOException, InterruptedException {
        CountDownLatch finished = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            requestStop();
            try {
                finished.await(30, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "sd-trainer-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return finish.apply(run());
        } finally {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it returns now that the run is over
            }
        }
    }

    /**
     * Runs the frozen parts in float16 as --amp does on CUDA, on any device (tests check the casts on CPU,
     * where torch also computes in half).
     */
    public void forceHalfPrecisionFrozenParts() {
        this.halfFrozen = true;
    }

    /**
     * --amp: the frozen parts compute in float16 (the VAE, the text encoder unless it learns, and the base UNet
     * under an adapter); trained parameters, the loss and the optimizer stay in float32.
     */
    private void halfPrecisionForFrozenParts() {
        sd.vae().toType(DataType.FLOAT16);
        if (!textEncoderLearns()) sd.textEncoder().toType(DataType.FLOAT16);
        if (network != null) sd.unet().toType(DataType.FLOAT16);
        LOG.info("--amp: frozen parts in float16 (vae{}{}), trained parameters in float32",
                textEncoderLearns() ? "" : ", text encoder", network != null ? ", unet base" : "");
    }

    /** Fewer DDIM steps for save-point samples (tests, the embedded demo); the default is the original's 30. */
    public void setSampleSteps(int steps) {
        this.sampleSteps = steps;
    }

    /** Checks the data before step 1: stops with the full list, or drops the bad samples with a warning. */
    public void checkData() throws IOException {
        List<String> problems = data.problems();
        if (problems.isEmpty()) return;
        if (cfg.onBadSample() == sdtrainer.config.OnBadSample.FAIL) {
            throw new IOException(problems.size() + " bad sample(s) in " + cfg.dataset().orElseThrow()
                    + " (use --on_bad_sample skip to train without them):\n  " + String.join("\n  ", problems));
        }
        problems.forEach(p -> LOG.warn("skipping {}", p));
        skippedSamples = data.dropBad();
        if (data.size() == 0) throw new IOException("no usable samples left in " + cfg.dataset().orElseThrow());
    }

    public Summary run() throws IOException, InterruptedException {
        checkData();
        long seed = cfg.seed().orElseGet(() -> new java.security.SecureRandom().nextLong());
        LOG.info("seed {}", seed);
        Random order = new Random(seed);
        Noise noise = new Noise(seed * 0x9E3779B97F4A7C15L + 1);
        int repeat = cfg.minibatchRepeat();
        int minibatch = cfg.batchSize() / repeat;
        boolean vPrediction = cfg.vPrediction() || "v_prediction".equals(sd.schedule().predictionType());
        LOG.info("target: {}{}", vPrediction ? "v-prediction" : "epsilon (noise)",
                cfg.vPrediction() ? " (--v_prediction)" : " (from scheduler_config.json)");
        AdamW optimizer = new AdamW(parameterGroups());
        if (cfg.amp() && !sd.manager().getDevice().isGpu() && !halfFrozen) {
            LOG.info("--amp has no effect on {}: half precision is not faster there, training runs in float32",
                    sd.manager().getDevice());
        } else if (cfg.amp() || halfFrozen) {
            halfPrecisionForFrozenParts();
        }
        int stepsPerPass = data.epoch(new Random(0), minibatch).size();
        int passes = Math.max(1, cfg.epochs() / repeat);
        long total = (long) passes * stepsPerPass;
        int warmup = (int) Math.round(0.05 * total);
        LrSchedule schedule = LrSchedule.of(cfg.lrScheduler().toString(), warmup, (int) total);
        Map<String, Double> baseLr = new LinkedHashMap<>();
        optimizer.groups().forEach(g -> baseLr.put(g.name(), g.lr()));
        LOG.info("{} samples, {} minibatches of {} (x{} repeat) per pass, {} passes = {} epochs, {} steps",
                data.size(), stepsPerPass, minibatch, repeat, passes, passes * repeat, total);

        Files.createDirectories(output);
        Files.createDirectories(imageLog);
        Path logDir = cfg.logDir().orElse(output.resolve("logs"));
        if (cfg.wandb()) Wandb.announce(console, logDir);
        SaveContext saving = new SaveContext(logDir, new ArrayList<>(), ConfigLoader.toYaml(cfg), seed, java.time.Instant.now(),
                passes * repeat);
        long start = System.nanoTime();
        long step = 0;
        double lossEma = Double.NaN;
        int epoch = 0;
        List<String> lastCaptions = List.of();
        long[] lastShape = null;
        ConsoleProgress progress = new ConsoleProgress(console, terminal, total);
        ExecutorService loaders = Prefetcher.loaderPool(Math.max(1, Runtime.getRuntime().availableProcessors() / 2));
        try (MetricsLog metrics = new MetricsLog(output.resolve(MetricsLog.FILE_NAME));
             TensorBoardWriter tb = new TensorBoardWriter(logDir)) {
            for (int pass = 0; pass < passes && !stopRequested.get(); pass++) {
                try (Prefetcher loader = new Prefetcher(data, data.epoch(order, minibatch), 4, loaders)) {
                    while (loader.hasNext() && !stopRequested.get()) {
                        List<Sample> batch = loader.next();
                        for (Map.Entry<String, Double> e : baseLr.entrySet()) {
                            optimizer.setLr(e.getKey(), e.getValue() * schedule.factor((int) step));
                        }
                        long t0 = System.nanoTime();
                        float loss = step(batch, repeat, vPrediction, noise, optimizer, StepTimer.OFF);
                        step++;
                        if (!Float.isFinite(loss)) {
                            // the weights are already spoiled by this step's update: stop before saving them
                            throw new IOException("the loss became " + loss + " at step " + step + " (epoch "
                                    + (pass * repeat + 1) + "); nothing was saved from this point. Lower --lr or check the"
                                    + " data of this minibatch: " + batch.stream().map(Sample::stem).toList());
                        }
                        double sps = batch.size() * repeat / ((System.nanoTime() - t0) / 1e9);
                        lossEma = Double.isNaN(lossEma) ? loss : 0.9 * lossEma + 0.1 * loss;
                        lastCaptions = batch.stream().map(Sample::caption).toList();
                        lastShape = batch.get(0).shape();
                        Map<String, Object> lrs = new LinkedHashMap<>();
                        optimizer.groups().forEach(g -> lrs.put(g.name(), optimizer.lr(g.name())));
                        Map<String, Number> scalars = new LinkedHashMap<>();
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("step", step);
                        row.put("epoch", pass * repeat + 1);
                        row.put("loss", loss);
                        row.put("loss_ema", lossEma);
                        row.put("lr", lrs);
                        row.put("samples_per_second", sps);
                        row.put("rss_mb", MemoryStats.rssMb());
                        // tensors alive in the model's manager: flat from step to step unless something leaks
                        row.put("live_tensors", sd.manager().getManagedArrays().size());
                        if (network != null && !loader.hasNext()) {
                            Map<String, Double> means = network.weightMeans();
                            row.put("weight_means", means);
                            means.forEach((g, v) -> scalars.put("weights/" + g, v));
                        }
                        metrics.append(row);
                        scalars.put("loss", loss);
                        scalars.put("loss_ema", lossEma);
                        scalars.put("samples_per_second", sps);
                        lrs.forEach((g, v) -> scalars.put("lr/" + g, (Number) v));
                        tb.addScalars(scalars, step);
                        progress.update(step, lossEma, sps, optimizer.lr(optimizer.groups().get(optimizer.groups().size() - 1).name()));
                    }
                }
                int firstEpoch = pass * repeat + 1;
                epoch = (pass + 1) * repeat;
                if (stopRequested.get()) break;
                tb.addScalar("memory/rss_mb", MemoryStats.rssMb(), step);
                progress.println(String.format(Locale.ROOT, "epoch %d/%d done: loss %.4f, step %d", epoch, passes * repeat,
                        lossEma, step));
                boolean last = pass == passes - 1;
                if (!last && savePointBetween(firstEpoch, epoch)) save(epoch, step, lastCaptions, lastShape, tb, saving);
            }
            if (step > 0) save(epoch, step, lastCaptions, lastShape, tb, saving);
        } finally {
            loaders.shutdownNow();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (cfg.wandb()) Wandb.announce(console, logDir);
        return new Summary(step, epoch, lossEma, skippedSamples, seconds, stopRequested.get());
    }

    /**
     * Times {@code steps} training steps on {@code batch} after {@code warmup} untimed ones: the real step,
     * with each phase synchronised. Returns the per-phase totals in milliseconds.
     */
    public Map<String, Double> benchmark(List<Sample> batch, int warmup, int steps) {
        boolean vPrediction = cfg.vPrediction() || "v_prediction".equals(sd.schedule().predictionType());
        AdamW optimizer = new AdamW(parameterGroups());
        Noise noise = new Noise(cfg.seed().orElse(0));
        StepTimer timer = new StepTimer();
        for (int i = 0; i < warmup + steps; i++) {
            if (i == warmup) timer.reset();
            step(batch, cfg.minibatchRepeat(), vPrediction, noise, optimizer, timer);
        }
        return timer.totalsMs();
    }

    private boolean savePointBetween(int firstEpoch, int lastEpoch) {
        for (int e = firstEpoch; e <= lastEpoch; e++) if (e % cfg.saveNEpochs() == 0) return true;
        return false;
    }

    /**
     * Optimizer groups, each with its own lr: the text encoder's (when trained) and the UNet's. With an adapter
     * network the whole base model is frozen and the groups hold the network's tensors; otherwise the UNet
     * trains whole or, with --up_only, only its up_blocks.
     */
    private List<ParamGroup> parameterGroups() {
        sd.vae().setRequiresGrad(false);
        sd.unet().setTraining(true);
        List<ParamGroup> groups = new ArrayList<>();
        if (network != null) {
            sd.textEncoder().setRequiresGrad(false);
            sd.unet().setRequiresGrad(false);
            if (!network.teParameters().isEmpty()) {
                groups.add(new ParamGroup("text_encoder", network.teParameters(), cfg.learningRates().teLr()));
            }
            groups.add(new ParamGroup("unet", network.unetParameters(), cfg.learningRates().unetLr()));
            return groups;
        }
        sd.textEncoder().setRequiresGrad(cfg.trainEncoder());
        sd.unet().setRequiresGrad(!cfg.upOnly());
        if (cfg.upOnly()) sd.unet().children().get("up_blocks").setRequiresGrad(true);
        if (cfg.trainEncoder()) {
            sd.textEncoder().setTraining(true);
            groups.add(new ParamGroup("text_encoder", trainable(sd.textEncoder().namedParameters()),
                    cfg.learningRates().teLr()));
        }
        groups.add(new ParamGroup("unet", trainable(sd.unet().namedParameters()), cfg.learningRates().unetLr()));
        return groups;
    }

    private static Map<String, NDArray> trainable(Map<String, Parameter> params) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        params.forEach((k, p) -> {
            if (p.isTrainable()) out.put(k, p.get());
        });
        return out;
    }

    /** One optimisation step; returns the loss. Everything it creates is freed when its scope closes. */
    private float step(List<Sample> batch, int repeat, boolean vPrediction, Noise noise, Optimizer optimizer, StepTimer timer) {
        NDManager m = sd.manager();
        try (NDScope scope = new NDScope()) {
            timer.start();
            NDArray latents = latents(batch, noise, m);
            NDArray mask = masks(batch, m);
            timer.mark("data", latents);
            long b = latents.getShape().get(0);
            List<String> captions = batch.stream().map(Sample::caption).toList();
            NDArray timesteps;
            DiffusionLoss.Result r;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray context;
                if (textEncoderLearns()) {
                    context = sd.encodePrompts(captions, m);
                } else {
                    try (NoGrad ignored = new NoGrad()) {
                        context = sd.encodePrompts(captions, m);
                    }
                }
                context = Ops.castKeepingGrad(context, DataType.FLOAT32);
                timer.mark("text_encoder", context);
                if (repeat > 1) {
                    latents = latents.tile(new long[] {repeat, 1, 1, 1});
                    context = context.tile(new long[] {repeat, 1, 1});
                    if (mask != null) mask = mask.tile(new long[] {repeat, 1, 1});
                }
                NDArray noiseArr = noise.gaussian(m, latents.getShape(), m.getDevice());
                timesteps = m.create(timestepRange.sample(noise, (int) (b * repeat))).toDevice(m.getDevice(), false);
                Checkpointing ck = cfg.gradientCheckpointing() ? new Checkpointing(textEncoderLearns()) : null;
                r = DiffusionLoss.compute(sd.unet(), sd.schedule(), latents, context, noiseArr, timesteps, vPrediction, mask, ck);
                timer.mark("unet_forward", r.loss());
                gc.backward(r.loss());
                if (ck != null) ck.backward();
                timer.mark("backward", r.loss());
            }
            optimizer.step();
            optimizer.zeroGrad();
            float loss = r.loss().getFloat();
            timer.mark("optimizer", null);
            return loss;
        }
    }

    /** Whether gradients must flow through the text encoder (trained itself, or adapted by the network). */
    private boolean textEncoderLearns() {
        return network != null ? !network.teParameters().isEmpty() : cfg.trainEncoder();
    }

    /** Cached latents (scaled), or images encoded by the VAE: a posterior sample times the scaling factor. */
    private NDArray latents(List<Sample> batch, Noise noise, NDManager m) {
        float scale = sd.vae().config.scalingFactor();
        long[] shape = batch.get(0).shape();
        float[] flat = new float[batch.size() * (int) (shape[0] * shape[1] * shape[2])];
        int per = flat.length / batch.size();
        for (int i = 0; i < batch.size(); i++) {
            Sample s = batch.get(i);
            System.arraycopy(s.isLatent() ? s.latent() : s.image(), 0, flat, i * per, per);
        }
        NDArray x = m.create(flat, new Shape(batch.size(), shape[0], shape[1], shape[2]));
        if (batch.get(0).isLatent()) return x.mul(scale);
        try (NoGrad ignored = new NoGrad()) {
            var posterior = sd.vae().encode(x.toType(sd.vae().dataType(), false));
            NDArray eps = noise.gaussian(m, posterior.mean().getShape(), m.getDevice()).toType(sd.vae().dataType(), false);
            return posterior.sample(eps).toType(DataType.FLOAT32, false).mul(scale);
        }
    }

    private static NDArray masks(List<Sample> batch, NDManager m) {
        if (batch.get(0).mask() == null) return null;
        long h = batch.get(0).shape()[1], w = batch.get(0).shape()[2];
        float[] flat = new float[(int) (batch.size() * h * w)];
        for (int i = 0; i < batch.size(); i++) System.arraycopy(batch.get(i).mask(), 0, flat, (int) (i * h * w), (int) (h * w));
        return m.create(flat, new Shape(batch.size(), h, w));
    }

    /** What every save point of a run shares: where logs go, the saves so far, the resolved config, run facts. */
    private record SaveContext(Path logDir, List<Report.SavePoint> saves, String configYaml, long seed,
                               java.time.Instant startedAt, int totalEpochs) {}

    /**
     * Writes the trained weights atomically (the adapter network as {@code <output>.safetensors} with kohya's
     * metadata, or the whole model as a diffusers directory), the sample images, report.html, and syncs W&B.
     */
    private void save(int epoch, long step, List<String> captions, long[] shape, TensorBoardWriter tb, SaveContext ctx)
            throws IOException {
        DType precision = switch (cfg.savePrecision()) {
            case FP16 -> DType.F16;
            case BF16 -> DType.BF16;
            case FP32 -> DType.F32;
        };
        int f = sd.vae().config.downsamplingFactor();
        int w = cfg.resolution().width(), h = cfg.resolution().height();
        if (shape != null && shape[0] != 3) {
            // bucketed latents: sample at the bucket's pixel size
            w = (int) shape[2] * f;
            h = (int) shape[1] * f;
        }
        if (network != null) {
            Path file = output.resolveSibling(output.getFileName() + ".safetensors");
            network.save(file, kohyaMetadata(epoch, step, ctx), precision);
            LOG.info("saved {} to {} (epoch {}, step {})", cfg.network(), file, epoch, step);
        } else if (cfg.saveFormat() == sdtrainer.config.SaveFormat.SINGLE_FILE) {
            sd.saveSingleFile(output.resolveSibling(output.getFileName() + ".safetensors"), precision);
        } else {
            sd.save(output, precision);
            LOG.info("saved model to {} (epoch {}, step {})", output, epoch, step);
        }
        int count = Math.min(captions.size(), 4);
        List<String> prompts = cfg.prompt().map(p -> java.util.Collections.nCopies(count, p)).orElse(captions.subList(0, count));
        List<Path> files = new ArrayList<>();
        try (NDManager m = sd.manager().newSubManager()) {
            NDArray images = TextToImage.generate(sd, new TextToImage.Request(prompts, DEFAULT_NEGATIVE, w, h, sampleSteps,
                    SAMPLE_GUIDANCE, SAMPLE_SEED), m);
            for (int i = 0; i < prompts.size(); i++) {
                BufferedImage img = ImageTensors.toImage(images, i);
                Path file = imageLog.resolve(String.format(Locale.ROOT, "image_log_epoch_%03d_%d.png", epoch, i));
                Images.writePng(img, file);
                files.add(file);
                tb.addImage("samples/" + i + ": " + prompts.get(i), img, step);
            }
        }
        tb.flush();
        ctx.saves().add(new Report.SavePoint(epoch, step, files, prompts));
        Report.write(output, output.resolve(MetricsLog.FILE_NAME), ctx.saves(), ctx.configYaml());
        if (cfg.wandb()) Wandb.syncIfAvailable(ctx.logDir());
    }

    /** kohya's ss_* metadata, so A1111, ComfyUI and kohya's tools recognise the file. */
    private Map<String, String> kohyaMetadata(int epoch, long step, SaveContext ctx) {
        boolean v2 = sd.unet().config.crossAttentionDim() == 1024;
        boolean eh = cfg.network() == sdtrainer.config.NetworkType.EH;
        return new KohyaMetadata()
                .network(eh ? "networks.eh" : LoraNetwork.KOHYA_MODULE, eh ? cfg.ehGroups() : cfg.lora(),
                        cfg.loraAlpha() == 0 ? cfg.lora() : cfg.loraAlpha())
                .model(v2, cfg.vPrediction() || "v_prediction".equals(sd.schedule().predictionType()))
                .resolution(cfg.resolution().width(), cfg.resolution().height())
                .learningRates(cfg.learningRates().unetLr(), cfg.learningRates().unetLr(), cfg.learningRates().teLr())
                .progress(ctx.totalEpochs(), epoch, step)
                .batchSizePerDevice(cfg.batchSize())
                .seed(ctx.seed())
                .mixedPrecision(cfg.amp() ? "fp16" : "no")
                .outputName(output.getFileName().toString())
                .trainingTimes(ctx.startedAt(), java.time.Instant.now())
                .tagFrequency(Map.of(cfg.dataset().orElseThrow().getFileName().toString(), data.captions()))
                .enableBucket(cfg.useBucket())
                .build();
    }
}
