package sdtrainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sdtrainer.data.Images;
import sdtrainer.network.Network;
import sdtrainer.network.SdxlNetworks;
import sdtrainer.pipeline.ImageTensors;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.SdxlTextToImage;
import sdtrainer.pipeline.StableDiffusionXL;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.TextToImage;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.concurrent.Callable;

/** {@code sd-trainer sample}: txt2img with classifier-free guidance (DDIM; Euler for SDXL models). */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate images from a prompt with DDIM and classifier-free guidance (PNG files).")
public final class SampleCommand implements Callable<Integer> {
    @CommandLine.Mixin
    ModelOption model = new ModelOption();
    @Option(names = "--prompt", required = true, description = "what to draw")
    String prompt;
    @Option(names = "--negative_prompt", description = "what to steer away from (default: empty; for SDXL none, i.e."
            + " zero negative conditioning when the model's force_zeros_for_empty_prompt is set)")
    String negativePrompt;
    @Option(names = "--steps", defaultValue = "30", description = "DDIM steps (default: ${DEFAULT-VALUE})")
    int steps;
    @Option(names = "--guidance", defaultValue = "7.5", description = "classifier-free guidance scale (default: ${DEFAULT-VALUE})")
    float guidance;
    @Option(names = "--width", description = "image width in pixels (default: the model's sample size)")
    Integer width;
    @Option(names = "--height", description = "image height in pixels (default: the model's sample size)")
    Integer height;
    @Option(names = "--seed", defaultValue = "4545", description = "noise seed; the same seed gives the same images (default: ${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--count", defaultValue = "1", description = "images to generate in one batch (default: ${DEFAULT-VALUE})")
    int count;
    @Option(names = "--output", required = true, paramLabel = "DIR", description = "directory for sample_<seed>_<i>.png")
    Path output;
    @Option(names = "--lora", paramLabel = "FILE", description = "LoRA (ours or kohya-format) or EH file to apply")
    Path lora;
    @Option(names = "--lora_scale", defaultValue = "1.0", paramLabel = "S",
            description = "multiplier of the --lora network (default: ${DEFAULT-VALUE})")
    double loraScale;
    @CommandLine.Mixin
    DeviceOption device = new DeviceOption();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (steps < 1 || count < 1 || guidance < 0) {
            spec.commandLine().getErr().println("sd-trainer sample: --steps and --count must be >= 1 and --guidance >= 0");
            return CommandLine.ExitCode.USAGE;
        }
        if (lora != null) ModelInputs.requireFile("--lora", lora, "the LoRA or EH file (.safetensors)");
        ModelSource source = model.source();
        EngineInfo engine = device.start(0);
        Files.createDirectories(output);
        if (ModelDirectory.isSdxl(model.model)) return sdxl(engine);
        try (NDManager m = NDManager.newBaseManager(engine.device());
             StableDiffusion sd = ModelInputs.load(source, engine.device())) {
            if (lora != null) ModelInputs.adapter("--lora", lora, sd, loraScale);
            int side = sd.unet().config.sampleSize() * sd.vae().config.downsamplingFactor();
            TextToImage.Request r = new TextToImage.Request(Collections.nCopies(count, prompt),
                    negativePrompt == null ? "" : negativePrompt, width == null ? side : width,
                    height == null ? side : height, steps, guidance, seed);
            write(TextToImage.generate(sd, r, m));
        }
        return CommandLine.ExitCode.OK;
    }

    /** SDXL: both encoders, size conditioning for an uncropped image of the requested size, Euler. */
    private int sdxl(EngineInfo engine) throws Exception {
        try (NDManager m = NDManager.newBaseManager(engine.device());
             StableDiffusionXL sd = StableDiffusionXL.load(model.model, engine.device())) {
            if (lora != null) SdxlNetworks.load(lora, sd, loraScale, sd.manager()).attach();
            int side = sd.unet().config.sampleSize() * sd.vae().config.downsamplingFactor();
            SdxlTextToImage.Request r = new SdxlTextToImage.Request(Collections.nCopies(count, prompt), negativePrompt,
                    width == null ? side : width, height == null ? side : height, steps, guidance, seed,
                    SdxlTextToImage.DEFAULT_SAMPLER, null);
            write(SdxlTextToImage.generate(sd, r, m));
        }
        return CommandLine.ExitCode.OK;
    }

    private void write(NDArray images) throws java.io.IOException {
        for (int i = 0; i < count; i++) {
            Path file = output.resolve("sample_" + seed + "_" + i + ".png");
            Images.writePng(ImageTensors.toImage(images, i), file);
            spec.commandLine().getOut().println(file);
        }
    }
}
