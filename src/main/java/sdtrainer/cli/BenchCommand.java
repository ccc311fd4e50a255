package sdtrainer.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.Sample;
import sdtrainer.log.MemoryStats;
import sdtrainer.network.Network;
import sdtrainer.network.NetworkFactory;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.train.Trainer;

import java.io.PrintStream;
import java.io.PrintWriter;
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
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "diffusers model directory")
    Path model;
    @Option(names = "--resolution", defaultValue = "512", description = "image size W,H or N (default: ${DEFAULT-VALUE})")
    String resolution;
    @Option(names = "--batch_size", defaultValue = "1", description = "samples per step (default: ${DEFAULT-VALUE})")
    int batchSize;
    @Option(names = "--steps", defaultValue = "10", description = "timed steps after 2 warm-up steps (default: ${DEFAULT-VALUE})")
    int steps;
    @Option(names = "--lora", defaultValue = "0", paramLabel = "RANK",
            description = "time LoRA training of this rank instead of a full fine-tune (default: ${DEFAULT-VALUE})")
    int lora;
    @Option(names = "--train_encoder", description = "also train the text encoder")
    boolean trainEncoder;
    @CommandLine.Mixin
    DeviceOption device = new DeviceOption();
    @Option(names = "--json", description = "print the figures as one JSON object on stdout")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (batchSize < 1 || steps < 1 || lora < 0) {
            spec.commandLine().getErr().println("sd-trainer bench: --batch_size and --steps must be >= 1, --lora >= 0");
            return CommandLine.ExitCode.USAGE;
        }
        EngineInfo engine = device.start(0);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("model", model.toString());
        settings.put("resolution", resolution);
        settings.put("batch_size", batchSize);
        settings.put("train_encoder", trainEncoder);
        settings.put("seed", 0);
        TrainConfig cfg = ConfigLoader.merge(new TrainConfig(), settings);
        try (StableDiffusion sd = StableDiffusion.load(model, engine.device())) {
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
            report(Trainer.benchmark(cfg, sd, network, batch, 2, steps), steps, batchSize, engine.device());
        }
        return CommandLine.ExitCode.OK;
    }

    private void report(Map<String, Double> phases, int steps, int batch, ai.djl.Device dev) throws Exception {
        double total = phases.values().stream().mapToDouble(Double::doubleValue).sum() / steps;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("samples_per_second", batch * 1000.0 / total);
        out.put("ms_per_step", total);
        Map<String, Double> split = new LinkedHashMap<>();
        phases.forEach((k, v) -> split.put(k, v / steps));
        out.put("split_ms", split);
        out.put("peak_rss_mb", MemoryStats.peakRssMb());
        if (dev.isGpu()) out.put("device_memory_used_mb", MemoryStats.deviceUsedMb(dev));
        PrintWriter pw = spec.commandLine().getOut();
        if (json) {
            pw.println(new ObjectMapper().writeValueAsString(out));
        } else {
            pw.printf(Locale.ROOT, "%.2f samples/s, %.1f ms/step (batch %d), peak RSS %.0f MiB%n",
                    batch * 1000.0 / total, total, batch, MemoryStats.peakRssMb());
            if (dev.isGpu()) pw.printf(Locale.ROOT, "device memory in use %.0f MiB%n", MemoryStats.deviceUsedMb(dev));
            split.forEach((k, v) -> pw.printf(Locale.ROOT, "  %-13s %8.1f ms%n", k, v));
        }
        pw.flush();
    }
}
