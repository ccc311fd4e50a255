package sdtrainer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sdtrainer.io.DType;
import sdtrainer.network.LoraMerge;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.network.SdxlNetworks;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.StableDiffusionXL;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code sd-trainer merge-lora}: bakes a LoRA (ours or kohya-format) or EH file into a full model directory. */
@Command(name = "merge-lora", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Add a LoRA or EH network's weight change to a model and save it as a new diffusers directory (fp32).")
public final class MergeLoraCommand implements Callable<Integer> {
    @CommandLine.Mixin
    ModelOption model = new ModelOption();
    @Option(names = "--lora", required = true, paramLabel = "FILE", description = "network file (.safetensors)")
    Path lora;
    @Option(names = "--scale", defaultValue = "1.0", description = "multiplier of the weight change (default: ${DEFAULT-VALUE})")
    double scale;
    @Option(names = "--output", required = true, paramLabel = "DIR", description = "directory for the merged model")
    Path output;
    @CommandLine.Mixin
    DeviceOption device = new DeviceOption();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InputException, IOException {
        ModelInputs.requireFile("--lora", lora, "the LoRA or EH file (.safetensors)");
        ModelSource source = model.source();
        EngineInfo engine = device.start(0);
        try (DiffusionModel sd = ModelInputs.loadAnyFamily(source, engine.device())) {
            try {
                if (sd instanceof StableDiffusionXL xl) SdxlNetworks.merge(xl, lora, scale);
                else LoraMerge.merge((StableDiffusion) sd, lora, scale);
            } catch (IOException | IllegalArgumentException e) {
                throw new InputException("--lora " + e.getMessage(), e);
            }
            sd.save(output, DType.F32);
        }
        spec.commandLine().getOut().println(output);
        return CommandLine.ExitCode.OK;
    }
}
