package sdtrainer.cli.preprocess;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sdtrainer.preprocess.Progress;

/**
 * The options every preprocess command has ({@code --threads}, {@code --help}), as a picocli mixin, and the
 * checks they share; a failed check is a usage error (exit code 2).
 */
final class PreprocessOptions {
    @Spec(Spec.Target.MIXEE)
    private CommandSpec spec;

    @Option(names = {"--threads", "-p"}, paramLabel = "N", description = "files processed in parallel (default: all cores)")
    private Integer threads;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help and exit")
    private boolean help;

    /** The worker count: --threads, or every core when it is absent. */
    int workers() {
        if (threads == null) {
            return Runtime.getRuntime().availableProcessors();
        }
        if (threads < 1) {
            throw new ParameterException(spec.commandLine(), "--threads must be at least 1, got " + threads);
        }
        return threads;
    }

    /** A command's options record; its validation message becomes a usage error. */
    <T> T options(Supplier<T> options) {
        try {
            return options.get();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    void requireDirectory(Path dir, String option) {
        if (!Files.isDirectory(dir)) {
            throw new ParameterException(spec.commandLine(), option + " " + dir + " is not a directory");
        }
    }

    /** The progress bar of the command, on its error stream, counting images. */
    Progress progress() {
        return progress("images");
    }

    /** The progress bar of the command, on its error stream, counting {@code unit}. */
    Progress progress(String unit) {
        return new Progress(spec.name(), unit, spec.commandLine().getErr(), Progress.consoleIsTerminal());
    }
}
