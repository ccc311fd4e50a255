package sdtrainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sdtrainer.data.Images;
import sdtrainer.diffusion.Samplers;
import sdtrainer.network.SdxlNetworks;
import sdtrainer.pipeline.ImageTensors;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.SamplePrompt;
import sdtrainer.pipeline.SamplePromptFile;
import sdtrainer.pipeline.SdxlTextToImage;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.StableDiffusionXL;
import sdtrainer.pipeline.TextToImage;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code sd-trainer sample}: txt2img with a chosen sampler and classifier-free guidance (Euler for SDXL models). */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate images from a prompt or a prompt file with classifier-free guidance (PNG files).")
public final class SampleCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(SampleCommand.class);

    @CommandLine.Mixin
    ModelOption model = new ModelOption();
    @Option(names = "--prompt", description = "what to draw (or give --prompts)")
    String prompt;
    @Option(names = "--prompts", paramLabel = "FILE",
            description = "kohya-style prompt file (.txt lines with --n --w --h --s --l --d --ss, or .toml/.json); "
                    + "the other options are the defaults of its lines")
    Path prompts;
    @Option(names = "--sampler", defaultValue = "ddim", paramLabel = "NAME",
            description = "ddim, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lms, heun or ddpm (default: ${DEFAULT-VALUE}; "
                    + "SDXL: euler)")
    String sampler;
    @Option(names = "--negative_prompt", description = "what to steer away from (default: empty; for SDXL none, i.e."
            + " zero negative conditioning when the model's force_zeros_for_empty_prompt is set)")
    String negativePrompt;
    @Option(names = "--steps", defaultValue = "30", description = "sampling steps (default: ${DEFAULT-VALUE})")
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
    @Option(names = "--output", required = true, paramLabel = "DIR",
            description = "directory for sample_<seed>_<i>.png (with --prompts: sample_<prompt index>_<seed>_<i>.png)")
    Path output;
    @Option(names = "--lora", paramLabel = "FILE", description = "LoRA (ours or kohya-format) or EH file to apply")
    Path lora;
    @Option(names = "--lora_scale", defaultValue = "1.0", paramLabel = "S",
            description = "multiplier of the --lora network (default: ${DEFAULT-VALUE})")
    double loraScale;
    @CommandLine.Mixin
    DeviceOption device = new DeviceOption();
    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "intra-op CPU threads; 0 = one per physical core (default: ${DEFAULT-VALUE})")
    int threads;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (steps < 1 || count < 1 || guidance < 0) {
            return usage("--steps and --count must be >= 1 and --guidance >= 0");
        }
        if ((prompt == null) == (prompts == null)) return usage("give either --prompt or --prompts FILE");
        List<SamplePrompt> entries;
        try {
            sampler = Samplers.canonical(sampler);
            entries = prompts != null ? SamplePromptFile.read(prompts)
                    : List.of(new SamplePrompt(prompt, null, null, null, null, null, null, null, "--prompt", 0));
        } catch (IllegalArgumentException e) {
            return usage(e.getMessage());
        } catch (java.nio.file.NoSuchFileException e) {
            return usage("--prompts " + prompts + ": no such file");
        }
        if (lora != null) ModelInputs.requireFile("--lora", lora, "the LoRA or EH file (.safetensors)");
        ModelSource source = model.source();
        EngineInfo engine = device.start(threads);
        Files.createDirectories(output);
        if (source.isSdxl()) {
            if (prompts != null) return usage("--prompts is not supported for SDXL models yet; give --prompt");
            return sdxl(engine);
        }
        long started = System.nanoTime();
        try (NDManager m = NDManager.newBaseManager(engine.device());
             StableDiffusion sd = ModelInputs.load(source, engine.device())) {
            if (lora != null) ModelInputs.adapter("--lora", lora, sd, loraScale);
            LOG.info("sample: load {} ms", (System.nanoTime() - started) / 1_000_000);
            int side = sd.unet().config.sampleSize() * sd.vae().config.downsamplingFactor();
            // the --count images of a prompt are one batch from one seed; a file's lines have a seed each
            SamplePrompt.Defaults defaults = new SamplePrompt.Defaults(negativePrompt == null ? "" : negativePrompt,
                    width == null ? side : width, height == null ? side : height, steps, guidance, seed, sampler);
            for (SamplePrompt p : entries) {
                TextToImage.Request one = p.request(defaults);
                TextToImage.Request r = new TextToImage.Request(Collections.nCopies(count, one.prompts().get(0)),
                        one.negativePrompt(), one.width(), one.height(), one.steps(), one.guidance(),
                        one.seed(), one.sampler());
                NDArray images;
                try {
                    images = TextToImage.generate(sd, r, m);
                } catch (IllegalArgumentException e) {
                    return usage(p.source() + ": " + e.getMessage());
                }
                write(images, prompts == null ? "sample_" + r.seed() : "sample_" + p.index() + "_" + r.seed());
                images.close();
            }
        }
        return CommandLine.ExitCode.OK;
    }

    /** SDXL: both encoders, size conditioning for an uncropped image of the requested size, Euler. */
    private int sdxl(EngineInfo engine) throws Exception {
        try (NDManager m = NDManager.newBaseManager(engine.device());
             StableDiffusionXL sd = StableDiffusionXL.load(model.source(), engine.device())) {
            if (lora != null) SdxlNetworks.loadAdapter(lora, sd, loraScale, sd.manager()).attach();
            int side = sd.unet().config.sampleSize() * sd.vae().config.downsamplingFactor();
            SdxlTextToImage.Request r = new SdxlTextToImage.Request(Collections.nCopies(count, prompt), negativePrompt,
                    width == null ? side : width, height == null ? side : height, steps, guidance, seed,
                    SdxlTextToImage.DEFAULT_SAMPLER, null);
            write(SdxlTextToImage.generate(sd, r, m), "sample_" + seed);
        }
        return CommandLine.ExitCode.OK;
    }

    private void write(NDArray images, String stem) throws java.io.IOException {
        for (int i = 0; i < count; i++) {
            Path file = output.resolve(stem + "_" + i + ".png");
            Images.writePng(ImageTensors.toImage(images, i), file);
            spec.commandLine().getOut().println(file);
        }
    }

    private int usage(String problem) {
        spec.commandLine().getErr().println("sd-trainer sample: " + problem);
        return CommandLine.ExitCode.USAGE;
    }
}
