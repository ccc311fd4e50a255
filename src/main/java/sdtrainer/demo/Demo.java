package sdtrainer.demo;

import ai.djl.Device;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.ConfigValidator;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.AspectDataset;
import sdtrainer.log.MetricsLog;
import sdtrainer.log.Report;
import sdtrainer.network.Network;
import sdtrainer.network.NetworkFactory;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.preprocess.Bucketing;
import sdtrainer.preprocess.Latent;
import sdtrainer.preprocess.Progress;
import sdtrainer.train.Trainer;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The embedded demo job: everything a newcomer needs to see the tool work, made on the spot with no download.
 * It draws a captioned dataset of coloured shapes, writes a tiny random SD model whose tokenizer is learned
 * from those captions, then runs the real pipeline: aspect-ratio bucketing, the VAE latent cache and LoRA
 * training with sample images, metrics, TensorBoard logs and report.html.
 *
 * <p>The model is random, so sample images show coloured noise rather than shapes; what the demo shows is
 * the training loss falling and every artefact of a run being written, in a few minutes on two CPU cores.
 */
public final class Demo {
    public static final int DEFAULT_STEPS = 80;
    static final int IMAGES = 32;
    static final long SEED = 42;
    /** Square buckets of 48 px plus 64×32 and 32×64: small enough that a step takes a fraction of a second. */
    static final Bucketing.Options BUCKETS = new Bucketing.Options(48, 32, 64, 2.0);
    static final int BATCH_SIZE = 4;
    static final int LORA_RANK = 4;
    /** Runs at 5e-3 and 1e-2 fell faster but went to NaN after about 40 steps. */
    static final String LEARNING_RATE = "2e-3";
    static final int SAMPLE_STEPS = 10;
    static final int SAVES = 3;

    private Demo() {}

    /** Where a demo run put its results. */
    public record Result(Path model, Path dataset, Path lora, Path samples, Path metrics, Path tensorboard, Path report,
                         Trainer.Summary summary) {}

    /**
     * Runs the demo into {@code out} (created; it must not exist or be empty) for about {@code steps} optimizer
     * steps (whole epochs), printing progress and, at the end, where each result is.
     */
    public static Result run(Path out, int steps, Device device, PrintStream console) throws IOException, InterruptedException {
        if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        requireEmpty(out);
        Path raw = out.resolve("raw"), dataset = out.resolve("dataset"), model = out.resolve("model");
        Path output = out.resolve("lora"), samples = out.resolve("samples");
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        PrintWriter progressOut = new PrintWriter(new java.io.OutputStreamWriter(console, StandardCharsets.UTF_8), true);

        console.println("demo: drawing " + IMAGES + " captioned images of coloured shapes into " + raw);
        List<SyntheticDataset.Item> items = SyntheticDataset.write(raw, IMAGES, SEED);
        console.println("demo: writing a tiny random Stable Diffusion model into " + model);
        TinyModel.write(model, items.stream().map(SyntheticDataset.Item::caption).toList(), SEED);
        Bucketing.Result buckets = Bucketing.run(raw, dataset, BUCKETS, threads, new Progress("bucketing", progressOut, false));
        buckets.buckets().forEach((b, stems) -> console.println("demo: bucket " + b.key() + ": " + stems.size() + " images"));

        try (StableDiffusion sd = StableDiffusion.load(model, device)) {
            // posterior means: a random VAE's samples would bury the images under its own noise
            Latent.run(dataset, dataset, sd.vae(), sd.manager(), new Latent.Options(8, 0, null, Latent.Mode.MEAN, SEED),
                    threads, new Progress("latent", progressOut, false));
            int f = sd.vae().config.downsamplingFactor();
            AspectDataset data = new AspectDataset(dataset, false, f, sd.vae().config.latentChannels());
            int perEpoch = data.epoch(new Random(0), BATCH_SIZE).size();
            int epochs = Math.max(1, Math.round((float) steps / perEpoch));
            TrainConfig cfg = config(model, dataset, output, samples, epochs);
            Network network = NetworkFactory.create(sd, "lora", cfg.lora(), cfg.loraAlpha(), cfg.ehGroups(), cfg.upOnly(),
                    cfg.trainEncoder(), sd.manager(), cfg.seed().orElseThrow());
            network.attach();
            console.println("demo: training a rank-" + LORA_RANK + " LoRA for " + epochs + " epochs of " + perEpoch + " steps");
            Trainer trainer = new Trainer(cfg, sd, data, network, console, false);
            trainer.setSampleSteps(SAMPLE_STEPS);
            return trainer.runUntilShutdown(summary -> {
                Result result = new Result(model, dataset, output.resolveSibling(output.getFileName() + ".safetensors"),
                        samples, output.resolve(MetricsLog.FILE_NAME), cfg.logDir().orElseThrow(),
                        output.resolve(Report.FILE_NAME), summary);
                printWhere(result, console);
                return result;
            });
        }
    }

    /** The training options the demo uses, as a config file would give them. */
    static TrainConfig config(Path model, Path dataset, Path output, Path samples, int epochs) {
        TrainConfig cfg = ConfigLoader.merge(new TrainConfig(), Map.ofEntries(
                Map.entry("model", model.toString()), Map.entry("dataset", dataset.toString()),
                Map.entry("output", output.toString()), Map.entry("image_log", samples.toString()),
                Map.entry("log_dir", output.resolve("logs").toString()),
                Map.entry("resolution", String.valueOf(BUCKETS.resolution())), Map.entry("use_bucket", true),
                Map.entry("batch_size", BATCH_SIZE), Map.entry("lr", LEARNING_RATE), Map.entry("lr_scheduler", "cosine"),
                Map.entry("lora", LORA_RANK), Map.entry("lora_alpha", (double) LORA_RANK),
                Map.entry("epochs", epochs), Map.entry("save_n_epochs", (epochs + SAVES - 1) / SAVES),
                Map.entry("seed", SEED)));
        List<String> problems = ConfigValidator.validate(cfg);
        if (!problems.isEmpty()) throw new IllegalStateException("demo config is invalid: " + problems);
        return cfg;
    }

    /** A second run into the same folder would mix its metrics and samples with the first's. */
    private static void requireEmpty(Path out) throws IOException {
        if (!Files.exists(out)) return;
        if (!Files.isDirectory(out)) throw new IOException(out + ": exists and is not a directory");
        try (var entries = Files.list(out)) {
            if (entries.findAny().isPresent()) {
                throw new IOException(out + ": is not empty (a demo writes into a new folder; remove it or choose another --output)");
            }
        }
    }

    private static void printWhere(Result r, PrintStream console) {
        console.println();
        console.println("demo: " + r.summary().summaryLine());
        console.println("  LoRA (kohya format)   " + r.lora());
        console.println("  sample images         " + r.samples());
        console.println("  metrics               " + r.metrics());
        console.println("  report                " + r.report());
        console.println("  TensorBoard logs      " + r.tensorboard());
        console.println("                        tensorboard --logdir " + r.tensorboard());
        console.println("  model                 " + r.model());
        console.println("  dataset               " + r.dataset());
    }
}
