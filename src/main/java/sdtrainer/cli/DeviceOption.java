package sdtrainer.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.util.Optional;

/** The {@code --device} option of the subcommands that run the engine, and the engine start it leads to. */
public final class DeviceOption {
    @Spec(Spec.Target.MIXEE)
    private CommandSpec spec;

    @Option(names = "--device", description = "cpu, cuda or cuda:N (default: the first GPU if any, else cpu)")
    String device;

    /**
     * Starts the engine on the chosen device with {@code threads} intra-op threads (0 = the default of EngineSetup.start); a
     * --device that names no device here is a usage error (exit code 2), as for every other option.
     */
    public EngineInfo start(int threads) {
        try {
            return EngineSetup.start(Optional.ofNullable(device), threads);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
