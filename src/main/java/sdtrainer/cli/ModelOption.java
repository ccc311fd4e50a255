package sdtrainer.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sdtrainer.pipeline.ModelSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code --model} of the subcommands that read a model: a diffusers folder or a single-file checkpoint, with
 * {@code --model_config} and the SD 2.x prediction choice that single files need (training has the same options).
 */
public final class ModelOption {
    @Spec(Spec.Target.MIXEE)
    private CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR|FILE",
            description = "a diffusers model folder or a single .safetensors file (SD 1.x/2.x)")
    Path model;

    @Option(names = "--model_config", paramLabel = "DIR",
            description = "diffusers folder whose configs describe a single-file --model (weights unused)")
    Path modelConfig;

    @Option(names = "--v_prediction", negatable = true,
            description = "SD 2.x file predicts v (768 models); --no-v_prediction: epsilon (512 base)")
    Boolean vPrediction;

    /**
     * The model to read; a problem found from its name or header is an input error (one line, exit code 2). An existing
     * folder is left to the loader, which names everything it lacks.
     */
    public ModelSource source() throws InputException {
        return checked(true);
    }

    /** As {@link #source()} for uses that read the VAE alone, which need no prediction type. */
    public ModelSource vaeSource() throws InputException {
        return checked(false);
    }

    private ModelSource checked(boolean predictionNeeded) throws InputException {
        ModelSource s = new ModelSource(model, Optional.ofNullable(modelConfig), Optional.ofNullable(vPrediction));
        if (Files.isDirectory(model) && modelConfig == null) return s;
        java.util.Optional<String> problem = s.problem(predictionNeeded);
        if (problem.isPresent()) throw new InputException(problem.get());
        return s;
    }
}
