package sdtrainer.cli.preprocess;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import sdtrainer.cli.DeviceOption;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sdtrainer.cli.EngineInfo;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.nn.StateDict;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.preprocess.Latent;
import sdtrainer.preprocess.Progress;

/** {@code preprocess latent}: the original {@code latent.py} with its option names. */
@Command(name = "latent", sortOptions = false,
        description = {"Encodes every image of a bucketed folder (buckets.json + <stem>.png) with the model's VAE,"
            + " one bucket at a time, and writes <stem>.npy (float32 [C, H/f, W/f], unscaled). A folder without"
            + " buckets.json is batched by image size.",
            "Stems whose latent already exists are skipped, so an interrupted run can be resumed."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every image encoded", "1:some image failed", "2:invalid options"})
public final class LatentCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = {"--directory", "-d"}, required = true, paramLabel = "DIR",
            description = "bucketed folder (or a folder of same-size images)")
    private Path directory;

    @Option(names = {"--output_path", "-o"}, required = true, paramLabel = "DIR",
            description = "folder for the <stem>.npy latents (created if missing); the dataset folder for training")
    private Path outputPath;

    @Option(names = {"--model", "-m"}, required = true, paramLabel = "DIR|FILE",
            description = "diffusers model folder (its vae/ is used), a VAE folder itself, or a single-file"
                + " .safetensors checkpoint (SD 1.x/2.x, its VAE is used)")
    private Path model;

    @Option(names = "--model_config", paramLabel = "DIR",
            description = "diffusers folder whose vae/config.json describes a single-file --model (default: the shipped one)")
    private Path modelConfig;

    @Option(names = {"--batch_size", "-b"}, defaultValue = "10", paramLabel = "N",
            description = "images encoded together (default: ${DEFAULT-VALUE})")
    private int batchSize;

    @Option(names = {"--start", "-s"}, defaultValue = "0", paramLabel = "I",
            description = "index of the first image, in buckets.json order (default: ${DEFAULT-VALUE})")
    private int start;

    @Option(names = {"--end", "-e"}, paramLabel = "I", description = "index past the last image (default: all)")
    private Integer end;

    @Option(names = "--mode", defaultValue = "sample", paramLabel = "sample|mean",
            description = "store a posterior sample as the original, or the posterior mean (default: ${DEFAULT-VALUE})")
    private String mode;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N",
            description = "seed of the posterior samples; each image's noise depends on it and the image's stem"
                + " (default: ${DEFAULT-VALUE})")
    private long seed;

    @Mixin
    DeviceOption device = new DeviceOption();

    @Mixin
    private PreprocessOptions common = new PreprocessOptions();

    @Override
    public Integer call() throws InterruptedException {
        Latent.Options options = common.options(() -> new Latent.Options(batchSize, start, end, parseMode(), seed));
        int workers = common.workers();
        common.requireDirectory(directory, "--directory");
        ModelSource single = Files.isRegularFile(model)
                ? new ModelSource(model, Optional.ofNullable(modelConfig), Optional.empty()) : null;
        if (single != null) {
            single.problem(false).ifPresent(p -> { throw new ParameterException(spec.commandLine(), p); });
        } else {
            common.requireDirectory(model, "--model");
        }
        EngineInfo engine = device.start(0);
        PrintWriter err = spec.commandLine().getErr();
        try (NDManager manager = NDManager.newBaseManager(engine.device())) {
            AutoencoderKL vae = single != null ? StableDiffusion.loadSingleFileVae(single, manager) : loadVae(model, manager);
            Progress.Summary summary = Latent.run(directory, outputPath, vae, manager, options, workers,
                    common.progress());
            return summary.anyFailed() ? 1 : 0;
        } catch (IOException | IllegalArgumentException e) {
            err.println("latent: " + e.getMessage());
            return 1;
        }
    }

    private Latent.Mode parseMode() {
        return switch (mode.toLowerCase(Locale.ROOT)) {
            case "sample" -> Latent.Mode.SAMPLE;
            case "mean" -> Latent.Mode.MEAN;
            default -> throw new IllegalArgumentException("--mode must be sample or mean, got " + mode);
        };
    }

    /**
     * Loads only the VAE: from {@code <model>/vae/} of a diffusers model, or from {@code model} itself when it
     * is a VAE folder (config.json + diffusion_pytorch_model.safetensors).
     */
    static AutoencoderKL loadVae(Path model, NDManager manager) throws IOException {
        Path vaeDir = Files.isDirectory(model.resolve(ModelDirectory.VAE)) ? model.resolve(ModelDirectory.VAE) : model;
        Path configFile = vaeDir.resolve("config.json");
        JsonNode json = ModelDirectory.readJson(configFile);
        if (!json.path("block_out_channels").isArray()) {
            throw new IOException(configFile + ": not an AutoencoderKL config (no block_out_channels list)");
        }
        VaeConfig config;
        try {
            config = VaeConfig.from(json);
        } catch (IllegalArgumentException e) {
            throw new IOException(configFile + ": " + e.getMessage(), e);
        }
        AutoencoderKL vae = new AutoencoderKL(config);
        try (SafeTensorsSet weights = SafeTensorsSet.openModelWeights(vaeDir,
                ModelDirectory.weightsBaseName(ModelDirectory.VAE))) {
            StateDict.load(vae, weights, manager, k -> false);
        }
        return vae;
    }
}
