package sdtrainer.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;
import picocli.CommandLine.UnmatchedArgumentException;
import sdtrainer.config.ConfigException;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.ConfigValidator;
import sdtrainer.config.KohyaNames;
import sdtrainer.config.TrainConfig;

/**
 * The root command {@code sd-trainer}: its options are the training options ({@link TrainConfig}).
 * Options come from {@code --config FILE} first; options typed on the command line override the file.
 * Subcommands join {@code subcommands} below as they are built.
 */
@Command(name = "sd-trainer", mixinStandardHelpOptions = true, versionProvider = TrainCommand.Version.class,
        sortOptions = false, usageHelpWidth = 150,
        description = {"Fine-tunes a Stable Diffusion model (full or LoRA) in Java on PyTorch.",
            "Options keep the original sd-trainer's spelling; a --config file takes the same keys without dashes."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:failure during the run", "2:invalid options or configuration"},
        subcommands = {PreprocessCommand.class, SampleCommand.class, InspectCommand.class, BenchCommand.class,
            MergeLoraCommand.class, ConvertCommand.class, DemoCommand.class})
public final class TrainCommand implements Callable<Integer> {

    private static final String PREFIX = "sd-trainer: ";
    private static final String OPTIONS_MIXIN = "options";

    @Spec
    private CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE",
            description = "YAML or JSON file with option keys; command-line options override it")
    private Path configFile;

    @Option(names = "--dry_run",
            description = "check options, engine and device; print the resolved config as YAML and exit")
    private boolean dryRun;

    @Mixin(name = OPTIONS_MIXIN)
    private TrainConfig options = new TrainConfig();

    /** A command line for {@code sd-trainer} with its error handling; {@code execute} returns the exit code. */
    public static CommandLine newCommandLine() {
        CommandLine commandLine = new CommandLine(new TrainCommand())
                .setParameterExceptionHandler(TrainCommand::usageError)
                .setExecutionExceptionHandler(TrainCommand::runError)
                // Room for --[no-]scale_v_pred_loss_like_noise_pred, so every option's help stays on one line.
                .setUsageHelpLongOptionsMaxWidth(41);
        for (OptionSpec option : commandLine.getCommandSpec().options()) {
            if (option.type().isEnum()) {
                registerEnum(commandLine, option.type().asSubclass(Enum.class));
            }
        }
        return commandLine;
    }

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        TrainConfig config;
        try {
            config = resolvedConfig();
        } catch (ConfigException e) {
            err.println(PREFIX + e.getMessage());
            return CommandLine.ExitCode.USAGE;
        }
        List<String> problems = ConfigValidator.validate(config);
        if (!problems.isEmpty()) {
            problems.forEach(problem -> err.println(PREFIX + problem));
            return CommandLine.ExitCode.USAGE;
        }
        EngineInfo engine;
        try {
            engine = EngineSetup.start(config.device(), config.threads());
        } catch (IllegalArgumentException e) {
            err.println(PREFIX + e.getMessage());
            return CommandLine.ExitCode.USAGE;
        }
        try {
            if (dryRun) {
                RunInputs.check(config, engine.device()).warnings().forEach(w -> err.println(PREFIX + "warning: " + w));
                PrintWriter out = spec.commandLine().getOut();
                out.print(resolvedYaml(config, engine));
                out.flush();
                return CommandLine.ExitCode.OK;
            }
            return train(config, engine);
        } catch (InputException e) {
            err.println(PREFIX + e.getMessage());
            return CommandLine.ExitCode.USAGE;
        }
    }

    /**
     * The config as the run resolves it (the device found, the log folder), which {@code --config} reads back;
     * an unset prompt and seed are noted in comments.
     */
    static String resolvedYaml(TrainConfig config, EngineInfo engine) {
        Map<String, Object> resolved = new LinkedHashMap<>();
        resolved.put("device", engine.device().isGpu() ? "cuda:" + engine.device().getDeviceId() : "cpu");
        resolved.put("log_dir", config.logDir().orElse(config.output().orElseThrow().resolve("logs")).toString());
        StringBuilder yaml = new StringBuilder(ConfigLoader.toYaml(ConfigLoader.merge(config, resolved)));
        if (config.prompt().isEmpty()) yaml.append("# prompt: unset, sample images use captions of the last batch\n");
        if (config.seed().isEmpty()) yaml.append("# seed: unset, the run picks one and logs it\n");
        return yaml.toString();
    }

    /** Locks the output, loads the model and data, trains, and reports; Ctrl-C stops after the current step and saves. */
    private int train(TrainConfig config, EngineInfo engine) throws InputException {
        PrintWriter err = spec.commandLine().getErr();
        try {
            return TrainingRun.prepare(config, engine.device(), line -> {
                err.println(PREFIX + line);
                err.flush();
            }).execute(s -> {
                err.println(PREFIX + s.summaryLine());
                err.flush();
                return CommandLine.ExitCode.OK;
            });
        } catch (java.io.IOException e) {
            err.println(PREFIX + e.getMessage());
            return CommandLine.ExitCode.SOFTWARE;
        } catch (java.io.UncheckedIOException e) {
            err.println(PREFIX + e.getCause().getMessage());
            return CommandLine.ExitCode.SOFTWARE;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return CommandLine.ExitCode.SOFTWARE;
        }
    }

    /** The config file's values (or the defaults) with the options the user typed laid over them. */
    TrainConfig resolvedConfig() throws ConfigException {
        TrainConfig base = configFile == null ? new TrainConfig() : ConfigLoader.load(configFile);
        List<OptionSpec> trainingOptions = spec.mixins().get(OPTIONS_MIXIN).options();
        Map<String, Object> typed = new LinkedHashMap<>();
        // Only matched options: defaults of untyped options must not clobber the file.
        for (OptionSpec option : spec.commandLine().getParseResult().matchedOptions()) {
            if (trainingOptions.contains(option)) {
                typed.put(option.longestName().substring(2), option.getValue());
            }
        }
        return ConfigLoader.merge(base, typed);
    }

    /** Accepts an enum option's lower-case spelling (its {@code toString}) and lists those in errors. */
    private static <E extends Enum<E>> void registerEnum(CommandLine commandLine, Class<E> type) {
        List<E> values = List.of(type.getEnumConstants());
        commandLine.registerConverter(type, text -> values.stream()
                .filter(value -> value.toString().equalsIgnoreCase(text))
                .findFirst()
                .orElseThrow(() -> new TypeConversionException("'" + text + "' is not one of "
                        + values.stream().map(String::valueOf).collect(Collectors.joining(", ")))));
    }

    /**
     * One line naming the problem, picocli's suggestions for a misspelt option (kohya's name's counterpart for a
     * kohya option), and where help is. A typo is named even when picocli first noticed a required option missing.
     */
    static int usageError(ParameterException e, String[] args) {
        CommandLine commandLine = e.getCommandLine();
        PrintWriter err = commandLine.getErr();
        ParameterException shown = e;
        if (e instanceof MissingParameterException) {
            List<String> unknown = unknownOptions(commandLine.getCommandSpec(), args);
            if (!unknown.isEmpty()) {
                err.println(PREFIX + e.getMessage());
                shown = new UnmatchedArgumentException(commandLine, unknown);
            }
        }
        List<String> kohya = shown instanceof UnmatchedArgumentException u ? kohyaHints(u.getUnmatched()) : List.of();
        err.println(PREFIX + shown.getMessage());
        if (kohya.isEmpty()) UnmatchedArgumentException.printSuggestions(shown, err);
        kohya.forEach(hint -> err.println(PREFIX + hint));
        err.println("Try '" + commandLine.getCommandSpec().qualifiedName() + " --help' for more information.");
        return commandLine.getCommandSpec().exitCodeOnInvalidInput();
    }

    /**
     * A subcommand's failure as one line: exit code 2 for an input error, 1 for an I/O failure during the run.
     * Anything else is a defect of the tool and keeps its stack trace.
     */
    private static int runError(Exception e, CommandLine commandLine, CommandLine.ParseResult parsed) throws Exception {
        if (!(e instanceof InputException) && !(e instanceof java.io.IOException)) throw e;
        commandLine.getErr().println(commandLine.getCommandSpec().qualifiedName() + ": " + e.getMessage());
        commandLine.getErr().flush();
        return e instanceof InputException ? CommandLine.ExitCode.USAGE : CommandLine.ExitCode.SOFTWARE;
    }

    /** The {@code --options} in {@code args} that {@code spec} does not know. */
    private static List<String> unknownOptions(CommandSpec spec, String[] args) {
        List<String> out = new java.util.ArrayList<>();
        for (String arg : args) {
            String name = arg.split("=", 2)[0];
            if (name.startsWith("--") && name.length() > 2 && spec.findOption(name) == null) out.add(name);
        }
        return out;
    }

    /** "--network_dim is the name in kohya's sd-scripts; here it is --lora" for each kohya option given. */
    private static List<String> kohyaHints(List<String> unmatched) {
        List<String> out = new java.util.ArrayList<>();
        for (String arg : unmatched) {
            String name = arg.split("=", 2)[0];
            if (!name.startsWith("--")) continue;
            KohyaNames.ours(name.substring(2)).ifPresent(ours ->
                    out.add(name + " is the name in kohya's sd-scripts; here it is --" + ours));
        }
        return out;
    }

    /** The version from the jar's manifest; absent when run from classes (tests, IDE). */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = TrainCommand.class.getPackage().getImplementationVersion();
            return new String[] {"sd-trainer " + (version == null ? "(development build)" : version)};
        }
    }
}
