package sdtrainer.cli;

import picocli.CommandLine.Option;

import java.util.Optional;

/** The {@code --device} option of the subcommands that run the engine, and the engine start it leads to. */
public final class DeviceOption {
    @Option(names = "--device", description = "cpu, cuda or cuda:N (default: the first GPU if any, else cpu)")
    String device;

    /** Starts the engine on the chosen device with {@code threads} intra-op threads (0 = engine default). */
    public EngineInfo start(int threads) {
        return EngineSetup.start(Optional.ofNullable(device), threads);
    }
}
