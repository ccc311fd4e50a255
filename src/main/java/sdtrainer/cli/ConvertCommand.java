package sdtrainer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sdtrainer.config.SaveFormat;
import sdtrainer.config.SavePrecision;
import sdtrainer.io.DType;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.StableDiffusionXL;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code sd-trainer convert}: a diffusers folder to an original-layout single file, or back. */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Convert a model between a diffusers folder and a single-file .safetensors checkpoint"
            + " (the original CompVis/ldm layout A1111, ComfyUI and kohya use), with the same loading rules as training."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:converted", "1:the model could not be read or written", "2:invalid options"})
public final class ConvertCommand implements Callable<Integer> {
    @CommandLine.Mixin
    ModelOption model = new ModelOption();
    @Option(names = "--output", required = true, paramLabel = "DST",
            description = "the .safetensors file (single_file) or the folder (diffusers) to write")
    Path output;
    @Option(names = "--format", paramLabel = "FORMAT",
            description = "${COMPLETION-CANDIDATES} (default: the other layout than --model's)")
    SaveFormat format;
    @Option(names = "--save_precision", defaultValue = "fp32", paramLabel = "TYPE",
            description = "weight type written: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    SavePrecision precision;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InputException {
        ModelSource source = model.source();
        SaveFormat to = Optional.ofNullable(format).orElse(source.singleFile() ? SaveFormat.DIFFUSERS : SaveFormat.SINGLE_FILE);
        if (to == SaveFormat.SINGLE_FILE && !output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--output " + output + ": a single file must be named *.safetensors");
        }
        DType dtype = precision.dtype();
        EngineInfo engine = EngineSetup.start(Optional.of("cpu"), 0);
        try (DiffusionModel sd = source.isSdxl() ? StableDiffusionXL.load(source, engine.device())
                : StableDiffusion.load(source, engine.device())) {
            if (to == SaveFormat.SINGLE_FILE) sd.saveSingleFile(output, dtype);
            else sd.save(output, dtype);
        } catch (IOException | IllegalArgumentException e) {
            spec.commandLine().getErr().println("sd-trainer convert: " + e.getMessage());
            return CommandLine.ExitCode.SOFTWARE;
        }
        spec.commandLine().getOut().println(output);
        return CommandLine.ExitCode.OK;
    }
}
