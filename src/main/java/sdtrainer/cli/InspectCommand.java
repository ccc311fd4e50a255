package sdtrainer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sdtrainer.pipeline.ModelInfo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code sd-trainer inspect}: what a model directory holds, from configs and headers, without loading weights. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print a model's family, prediction type and per-component parameters, dtypes and sizes; check its keys.")
public final class InspectCommand implements Callable<Integer> {
    @CommandLine.Mixin
    ModelOption model = new ModelOption();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InputException {
        try {
            spec.commandLine().getOut().print(ModelInfo.read(model.vaeSource()).render());
            spec.commandLine().getOut().flush();
            return CommandLine.ExitCode.OK;
        } catch (IOException | IllegalArgumentException e) {
            // inspect only reads the model: whatever is wrong is wrong with the input
            spec.commandLine().getErr().println("sd-trainer inspect: --model " + e.getMessage());
            return CommandLine.ExitCode.USAGE;
        }
    }
}
