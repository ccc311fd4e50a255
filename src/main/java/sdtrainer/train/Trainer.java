package sdtrainer.train;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.OnBadSample;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.Prefetcher;
import sdtrainer.data.Sample;
import sdtrainer.data.TrainingData;
import sdtrainer.log.MemoryStats;
import sdtrainer.log.OpProfile;
import sdtrainer.log.MetricsLog;
import sdtrainer.log.Wandb;
import sdtrainer.network.Network;
import sdtrainer.nn.Flops;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.train.optim.Optimizers;
import sdtrainer.train.recipe.TrainingRecipe;
import sdtrainer.train.optim.Optimizer;
import sdtrainer.train.optim.ParamGroup;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The training loop. Each option is a piece chosen once from the config ({@link TrainingPlan}, {@link Trainables},
 * {@link Conditioning}, {@link Noising}, {@link Objective}, {@link GradClip}, {@link Ema}), one optimizer step is
 * {@link TrainStep}, each step's figures go through {@link StepLog}, and {@link SavePoints} writes weights, samples,
 * reports and the {@link TrainingState} that {@code --resume} continues bit for bit.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    static final int SAMPLE_STEPS = 30;

    /** What a run did; {@code epochs} counts completed epochs. */
    public record Summary(long steps, int epochs, double lossEma, int skippedSamples, double seconds, boolean interrupted) {
        public String summaryLine() {
            return String.format(Locale.ROOT, "%s: %d steps, %d epochs, loss EMA %.4f, %d samples skipped, %.1f s",
                    interrupted ? "stopped" : "done", steps, epochs, lossEma, skippedSamples, seconds);
        }
    }

    private final TrainConfig cfg;
    private final DiffusionModel sd;
    private final TrainingData data;
    private final Network network;
    private final PrintStream console;
    private final boolean terminal;
    private final AtomicBoolean stopRequested = new AtomicBoolean();
    private int skippedSamples;
    private int sampleSteps = SAMPLE_STEPS;
    private boolean halfFrozen;
    private HeldOut heldOut;

    /** @param network the attached adapter to train (LoRA, EH), or null to train the model itself */
    public Trainer(TrainConfig cfg, DiffusionModel sd, TrainingData data, Network network, PrintStream console,
                   boolean terminal) {
        this.cfg = cfg;
        this.sd = sd;
        this.data = data;
        this.network = network;
        this.console = console;
        this.terminal = terminal;
    }

    public Summary run() throws IOException, InterruptedException {
        checkData();
        TrainingPlan plan = TrainingPlan.of(cfg, data);
        Trainables trainables = Trainables.of(cfg, sd, network);
        TrainingState.Loaded resumed = cfg.resume().isPresent() ? TrainingState.read(cfg.resume().get()) : null;
        TrainingState state = start(resumed, trainables, plan);
        Optimizer optimizer = Optimizers.create(cfg.optimizer(), cfg.optimizerArgs(), trainables.groups());
        Ema ema = cfg.emaDecay() > 0 ? new Ema(trainables.tensors(), cfg.emaDecay(), cfg.emaWarmup(), emaDevice()) : null;
        if (resumed != null) resumed.restore(trainables.tensors(), optimizer, ema, sd.manager());
        precision(trainables);
        Objective objective = recipe(cfg, sd);
        LOG.info("target: {}", objective.describe());
        TrainStep step = new TrainStep(parts(cfg, sd, trainables, objective, optimizer, ema, new RunRandom(state.seed())),
                state.step());
        Validation validation = Validation.of(cfg, heldOut, state.seed(), new TrainingRecipe(cfg).captions(),
                TimestepRange.of(cfg.stepRange(), sd.schedule().numTrainTimesteps()));
        if (validation != null) LOG.info(validation.describe());
        LrSchedule schedule = plan.schedule(cfg);
        Map<String, Double> baseLr = new LinkedHashMap<>();
        optimizer.groups().forEach(g -> baseLr.put(g.name(), g.lr()));
        LOG.info(plan.describe(data.size()));

        Path output = cfg.output().orElseThrow();
        Files.createDirectories(output);
        Files.createDirectories(cfg.imageLog().orElseThrow());
        Path logDir = cfg.logDir().orElse(output.resolve("logs"));
        if (cfg.wandb()) Wandb.announce(console, logDir);
        SavePoints saves = new SavePoints(new SavePoints.Run(cfg, ConfigLoader.toYaml(cfg), logDir, Instant.now(), plan,
                objective.vPrediction(), sampleSteps), sd, trainables, optimizer, ema, data);
        long start = System.nanoTime(), savedStep = state.step();
        ExecutorService loaders = Prefetcher.loaderPool(Math.max(1, Runtime.getRuntime().availableProcessors() / 2));
        try (StepLog log = new StepLog(output.resolve(MetricsLog.FILE_NAME), logDir, console, terminal, plan.totalSteps());
             BatchSource batches = new BatchSource(data, plan, new RunRandom(state.seed()), state.next(), loaders)) {
            if (saves.samplesAtFirst(state)) state = saves.drawSamples(state, log.tensorBoard());
            while (batches.hasNext() && !stopRequested.get()) {
                for (var lr : baseLr.entrySet()) optimizer.setLr(lr.getKey(), lr.getValue() * schedule.factor((int) state.step()));
                StepBatch batch = batches.next();
                long t0 = System.nanoTime();
                TrainStep.Result r = step.run(batch, StepTimer.OFF);
                StepLog.checkFinite(r.loss(), state.step() + 1, batch.pass() * plan.repeat() + 1, batch);
                state = state.after(batch, r.loss(), batches.position());
                log.record(row(state, batch, r, optimizer, plan, System.nanoTime() - t0));
                if (state.atPassStart()) log.println(epochLine(state, plan));
                if (validation != null && validation.due(state, plan)) state = validation.run(state, step, log, plan);
                if (state.atPassStart() && plan.savesAfter(state.next().pass() - 1)) {
                    state = saves.save(state, plan.epochsAfter(state.next().pass()), log.tensorBoard(), batches::order);
                    savedStep = state.step();
                } else if (cfg.saveStateEveryNSteps() > 0 && state.step() % cfg.saveStateEveryNSteps() == 0) {
                    saves.saveState(state, batches::order);
                }
                if (saves.samplesDue(state)) state = saves.drawSamples(state, log.tensorBoard());
            }
            if (state.step() > savedStep) {
                state = saves.save(state, plan.epochsAfter(state.next().pass()), log.tensorBoard(), batches::order);
            }
        } finally {
            loaders.shutdownNow();
        }
        if (cfg.wandb()) Wandb.announce(console, logDir);
        return new Summary(state.step(), plan.epochsAfter(state.next().pass()), state.lossEma(), skippedSamples,
                (System.nanoTime() - start) / 1e9, stopRequested.get());
    }

    /** A fresh state, or the resumed one after checking that this run may continue it. */
    private TrainingState start(TrainingState.Loaded resumed, Trainables trainables, TrainingPlan plan) throws IOException {
        TrainingState.Fingerprint fingerprint = Resume.fingerprint(sd, trainables, data, heldOut, cfg);
        if (resumed == null) {
            long seed = cfg.seed().orElseGet(() -> new java.security.SecureRandom().nextLong());
            LOG.info("seed {}", seed);
            return TrainingState.start(seed, fingerprint);
        }
        Resume.check(resumed, fingerprint, cfg).forEach(w -> LOG.warn("option changed since the state was saved: {}", w));
        TrainingState state = resumed.state();
        if (state.next().pass() < plan.passes() && !resumed.order().equals(data.epoch(
                new RunRandom(state.seed()).order(state.next().pass()), plan.samplesPerStep()))) {
            throw new TrainingState.StateMismatchException(resumed.dir() + ": the data order of pass "
                    + (state.next().pass() + 1) + " differs from the state's (another --batch_size or accumulation?)");
        }
        LOG.info("resuming {} at step {} (pass {}, step {} of it) with the state's seed {}; the lr schedule spans {} steps",
                resumed.dir(), state.step(), state.next().pass() + 1, state.next().batch(), state.seed(), plan.totalSteps());
        return state;
    }

    private ai.djl.Device emaDevice() {
        return "cpu".equals(cfg.emaDevice()) ? ai.djl.Device.cpu() : sd.manager().getDevice();
    }

    /** --amp on CUDA (or forced by tests): frozen parts in float16; no effect on CPU. */
    private void precision(Trainables trainables) {
        if (cfg.amp() && !sd.manager().getDevice().isGpu() && !halfFrozen) {
            LOG.info("--amp has no effect on {}: half precision is not faster there, training runs in float32",
                    sd.manager().getDevice());
        } else if (cfg.amp() || halfFrozen) {
            trainables.halfPrecisionForFrozenParts();
        }
    }

    private static TrainStep.Parts parts(TrainConfig cfg, DiffusionModel sd, Trainables trainables, Objective objective,
                                         Optimizer optimizer, Ema ema, RunRandom random) {
        TrainingRecipe recipe = new TrainingRecipe(cfg);
        Noising noising = new Noising(sd.schedule(), TimestepRange.of(cfg.stepRange(), sd.schedule().numTrainTimesteps()),
                recipe.noiseTransforms(), recipe.inputPerturbation().orElse(null));
        return new TrainStep.Parts(sd, trainables, recipe.captions(), Conditioning.of(sd, trainables.textEncoderLearns(), cfg.cacheTextEncoderOutputs()), noising,
                objective, optimizer, new GradClip(cfg.maxGradNorm()), ema, random, cfg.minibatchRepeat(),
                cfg.gradientCheckpointing());
    }

    /** The model set up for the recipe (schedule, prompt encoding) and the objective it trains on. */
    private static Objective recipe(TrainConfig cfg, DiffusionModel sd) {
        NoiseSchedule original = new TrainingRecipe(cfg).applyTo(sd);
        return Objective.of(cfg, original, sd.schedule());
    }

    private StepLog.Row row(TrainingState state, StepBatch batch, TrainStep.Result r, Optimizer optimizer,
                            TrainingPlan plan, long nanos) {
        Map<String, Double> lrs = new LinkedHashMap<>();
        for (ParamGroup g : optimizer.groups()) lrs.put(g.name(), optimizer.lr(g.name()));
        double sps = batch.samples().size() * plan.repeat() / (nanos / 1e9);
        return new StepLog.Row(state.step(), batch.pass() * plan.repeat() + 1, r.loss(), state.lossEma(), lrs, sps,
                r.gradNorm(), sd.manager().getManagedArrays().size(),
                network != null && state.atPassStart() ? network.weightMeans() : null);
    }

    private static String epochLine(TrainingState state, TrainingPlan plan) {
        return String.format(Locale.ROOT, "epoch %d/%d done: loss %.4f, step %d, rss %.0f MiB",
                plan.epochsAfter(state.next().pass()), plan.totalEpochs(), state.lossEma(), state.step(), MemoryStats.rssMb());
    }

    /** Checks the data before step 1: stops with the full list, or drops the bad samples with a warning. */
    public void checkData() throws IOException {
        List<String> problems = data.problems();
        if (problems.isEmpty()) return;
        if (cfg.onBadSample() == OnBadSample.FAIL) {
            throw new IOException(problems.size() + " bad sample(s) in " + cfg.dataset().orElseThrow()
                    + " (use --on_bad_sample skip to train without them):\n  " + String.join("\n  ", problems));
        }
        problems.forEach(p -> LOG.warn("skipping {}", p));
        skippedSamples = data.dropBad();
        if (data.size() == 0) throw new IOException("no usable samples left in " + cfg.dataset().orElseThrow());
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

    /** Computes the validation loss on {@code heldOut} (see {@link HeldOut#of}); by default there is none. */
    public void validateOn(HeldOut heldOut) {
        this.heldOut = heldOut;
    }

    /** Fewer DDIM steps for save-point samples (tests, the embedded demo); the default is the original's 30. */
    public void setSampleSteps(int steps) {
        this.sampleSteps = steps;
    }

    /** What {@code bench} measured: per-phase totals in ms, matrix-product FLOPs of one step, and the op profile or null. */
    public record Benchmark(Map<String, Double> phasesMs, long flopsPerStep, OpProfile profile) {}

    /**
     * {@code bench}: times {@code steps} real training steps on {@code batch} after {@code warmup} untimed ones,
     * each phase synchronised; then one more that counts its FLOPs and, if {@code profileSteps} > 0, that many
     * more under libtorch's profiler (both untimed: counting and profiling slow every op).
     */
    public static Benchmark benchmark(TrainConfig cfg, DiffusionModel sd, Network network, List<Sample> batch,
                                      int warmup, int steps, int profileSteps, Path trace) throws IOException {
        Trainables trainables = Trainables.of(cfg, sd, network);
        Optimizer optimizer = Optimizers.create(cfg.optimizer(), cfg.optimizerArgs(), trainables.groups());
        TrainStep step = new TrainStep(parts(cfg, sd, trainables, recipe(cfg, sd), optimizer, null,
                new RunRandom(cfg.seed().orElse(0))), 0);
        StepTimer timer = new StepTimer();
        int i = 0;
        for (; i < warmup + steps; i++) {
            if (i == warmup) timer.reset();
            step.run(StepBatch.split(0, i, batch, batch.size()), timer);
        }
        Map<String, Double> phases = new LinkedHashMap<>(timer.totalsMs());
        long flops;
        try (Flops count = Flops.count()) { // untimed: the count asks libtorch about every layer's input
            step.run(StepBatch.split(0, i++, batch, batch.size()), StepTimer.OFF);
            flops = count.total();
        }
        if (profileSteps == 0) return new Benchmark(phases, flops, null);
        OpProfile.start();
        for (int end = i + profileSteps; i < end; i++) step.run(StepBatch.split(0, i, batch, batch.size()), StepTimer.OFF);
        return new Benchmark(phases, flops, OpProfile.stop(trace, profileSteps));
    }
}
