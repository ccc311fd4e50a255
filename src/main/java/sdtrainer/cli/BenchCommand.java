package sdtrainer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.ConfigValidator;
import sdtrainer.config.OptimizerType;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.Sample;
import sdtrainer.log.MemoryStats;
import sdtrainer.log.OpProfile;
import sdtrainer.network.Network;
import sdtrainer.network.NetworkFactory;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.train.Trainables;
import sdtrainer.train.Trainer;
import sdtrainer.train.optim.Optimizers;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/** {@code sd-trainer bench}: times real training steps on synthetic latents, to pick a batch size on a new box. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Time training steps after warm-up: samples/s, ms per step by phase, peak memory.")
public final class BenchCommand implements Callable<Integer> {
    @CommandLine.Mixin
    ModelOption model = new ModelOption();
    @Option(names = "--resolution", defaultValue = "512", description = "image size W,H or N (default: ${DEFAULT-VALUE})")
    String resolution;
    @Option(names = "--batch_size", defaultValue = "1", description = "samples per step (default: ${DEFAULT-VALUE})")
    int batchSize;
    @Option(names = "--steps", defaultValue = "10", description = "timed steps after the warm-up (default: ${DEFAULT-VALUE})")
    int steps;
    @Option(names = "--warmup", defaultValue = "2", paramLabel = "N",
            description = "untimed steps first; the JVM's JIT takes about a dozen to settle, so figures meant for "
                    + "long runs want --warmup 12 or more (default: ${DEFAULT-VALUE})")
    int warmup;
    @Option(names = "--lora", defaultValue = "0", paramLabel = "RANK",
            description = "time LoRA training of this rank instead of a full fine-tune (default: ${DEFAULT-VALUE})")
    int lora;
    @Option(names = "--train_encoder", description = "also train the text encoder")
    boolean trainEncoder;
    @Option(names = "--optimizer", defaultValue = "adamw", paramLabel = "NAME",
            description = "optimizer, as for training: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})",
            converter = OptimizerTypeConverter.class, completionCandidates = OptimizerTypeConverter.class)
    OptimizerType optimizer;
    @Option(names = "--optimizer_args", defaultValue = "", paramLabel = "K=V,...",
            description = "optimizer arguments, as for training")
    String optimizerArgs;
    @CommandLine.Mixin
    DeviceOption device = new DeviceOption();
    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "intra-op CPU threads; 0 = one per physical core (default: ${DEFAULT-VALUE})")
    int threads;
    @Option(names = "--json", description = "print the figures as one JSON object on stdout")
    boolean json;
    @Option(names = "--profile", arity = "0..1", fallbackValue = "15", paramLabel = "TOP",
            description = "after the timed steps, profile 2 more with libtorch's profiler and list the TOP operators by self time (default 15)")
    Integer profileTop;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (batchSize < 1 || steps < 1 || warmup < 0 || lora < 0 || (profileTop != null && profileTop < 1)) {
            spec.commandLine().getErr().println("sd-trainer bench: --batch_size, --steps and --profile must be >= 1, --warmup and --lora >= 0");
            return CommandLine.ExitCode.USAGE;
        }
        List<String> problems = ConfigValidator.optimizerProblems(optimizer, optimizerArgs);
        if (!problems.isEmpty()) {
            spec.commandLine().getErr().println("sd-trainer bench: " + problems.get(0));
            return CommandLine.ExitCode.USAGE;
        }
        ModelSource source = model.source();
        EngineInfo engine = device.start(threads);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("model", source.model().toString());
        settings.put("resolution", resolution);
        settings.put("batch_size", batchSize);
        settings.put("train_encoder", trainEncoder);
        settings.put("seed", 0);
        settings.put("optimizer", optimizer);
        settings.put("optimizer_args", optimizerArgs);
        TrainConfig cfg = ConfigLoader.merge(new TrainConfig(), settings);
        try (StableDiffusion sd = ModelInputs.load(source, engine.device())) {
            int f = sd.vae().config.downsamplingFactor();
            int c = sd.vae().config.latentChannels();
            long h = cfg.resolution().height() / f, w = cfg.resolution().width() / f;
            Random r = new Random(0);
            List<Sample> batch = new ArrayList<>();
            for (int i = 0; i < batchSize; i++) {
                float[] lat = new float[(int) (c * h * w)];
                for (int j = 0; j < lat.length; j++) lat[j] = (float) r.nextGaussian();
                batch.add(new Sample("bench" + i, "a photo of a cat, masterpiece, best quality", lat, null, null, new long[] {c, h, w}));
            }
            Network network = null;
            if (lora > 0) {
                network = NetworkFactory.create(sd, "lora", lora, 1.0, 4, false, trainEncoder, sd.manager(), 0);
                network.attach();
            }
            Path trace = Files.createTempFile("sd-trainer-profile", ".json");
            try {
                Trainer.Benchmark b = Trainer.benchmark(cfg, sd, network, batch, warmup, steps, profileTop == null ? 0 : PROFILE_STEPS, trace);
                report(b, steps, batchSize, engine.device(), stateBytes(cfg, sd, network));
            } finally {
                Files.deleteIfExists(trace);
            }
        }
        return CommandLine.ExitCode.OK;
    }

    /** The optimizer-state bytes of the tensors the benchmark trained. */
    private static long stateBytes(TrainConfig cfg, StableDiffusion sd, Network network) {
        return Optimizers.make(cfg.optimizer(), cfg.optimizerArgs(), Trainables.of(cfg, sd, network).groups()).stateBytes();
    }

    /** Accepts the optimizer's lower-case name and lists the names as candidates. */
    static final class OptimizerTypeConverter extends ArrayList<String> implements CommandLine.ITypeConverter<OptimizerType> {
        OptimizerTypeConverter() {
            for (OptimizerType t : OptimizerType.values()) add(t.toString());
        }

        @Override
        public OptimizerType convert(String text) {
            for (OptimizerType t : OptimizerType.values()) if (t.toString().equalsIgnoreCase(text)) return t;
            throw new CommandLine.TypeConversionException("'" + text + "' is not one of " + String.join(", ", this));
        }
    }

    private static final int PROFILE_STEPS = 2;

    private void report(Trainer.Benchmark b, int steps, int batch, ai.djl.Device dev, long stateBytes)
            throws Exception {
        Map<String, Double> phases = b.phasesMs();
        double total = phases.values().stream().mapToDouble(Double::doubleValue).sum() / steps;
        double gflops = b.flopsPerStep() / 1e9;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("samples_per_second", batch * 1000.0 / total);
        out.put("ms_per_step", total);
        Map<String, Double> split = new LinkedHashMap<>();
        phases.forEach((k, v) -> split.put(k, v / steps));
        out.put("split_ms", split);
        out.put("peak_rss_mb", MemoryStats.peakRssMb());
        out.put("optimizer", optimizer.toString());
        out.put("optimizer_state_bytes", stateBytes);
        if (dev.isGpu()) out.put("device_memory_used_mb", MemoryStats.deviceUsedMb(dev));
        out.put("gflop_per_step", gflops);
        out.put("gflop_per_second", gflops * 1000 / total);
        OpProfile profile = b.profile();
        if (profile != null) out.put("profile", profileJson(profile));
        PrintWriter pw = spec.commandLine().getOut();
        if (json) {
            pw.println(new ObjectMapper().writeValueAsString(out));
        } else {
            pw.printf(Locale.ROOT, "%.2f samples/s, %.1f ms/step (batch %d), peak RSS %.0f MiB%n",
                    batch * 1000.0 / total, total, batch, MemoryStats.peakRssMb());
            pw.printf(Locale.ROOT, "optimizer %s: state %.1f MiB%n", optimizer, stateBytes / 1048576.0);
            if (dev.isGpu()) pw.printf(Locale.ROOT, "device memory in use %.0f MiB%n", MemoryStats.deviceUsedMb(dev));
            pw.printf(Locale.ROOT, "%.1f GFLOP per step (matrix products, forward and backward), %.1f GFLOP/s%n",
                    gflops, gflops * 1000 / total);
            split.forEach((k, v) -> pw.printf(Locale.ROOT, "  %-13s %8.1f ms%n", k, v));
            if (profile != null) printProfile(pw, profile);
        }
        pw.flush();
    }

    private Map<String, Object> profileJson(OpProfile p) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("steps", p.steps());
        out.put("top_level_calls_per_step", (double) p.topLevelCalls() / p.steps());
        out.put("op_calls_per_step", (double) p.allCalls() / p.steps());
        List<Map<String, Object>> top = new ArrayList<>();
        for (OpProfile.PerStep op : p.topPerStep(profileTop)) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("name", op.name());
            o.put("calls_per_step", op.calls());
            o.put("self_ms_per_step", op.selfMs());
            o.put("total_ms_per_step", op.totalMs());
            top.add(o);
        }
        out.put("top", top);
        return out;
    }

    private void printProfile(PrintWriter pw, OpProfile p) {
        pw.printf(Locale.ROOT, "profile of %d more steps (libtorch's profiler, its overhead included): per step %.0f calls "
                + "into libtorch (host and autograd engine), %.0f operators in all%n", p.steps(),
                (double) p.topLevelCalls() / p.steps(), (double) p.allCalls() / p.steps());
        pw.printf(Locale.ROOT, "  %-44s %9s %9s %9s%n", "operator", "calls", "self ms", "total ms");
        for (OpProfile.PerStep op : p.topPerStep(profileTop)) {
            String name = op.name().length() > 44 ? op.name().substring(0, 41) + "..." : op.name();
            pw.printf(Locale.ROOT, "  %-44s %9.0f %9.1f %9.1f%n", name, op.calls(), op.selfMs(), op.totalMs());
        }
    }
}
