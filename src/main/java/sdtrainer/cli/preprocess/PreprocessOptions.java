package sdtrainer.cli.preprocess;

import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** Option checks shared by the preprocess commands; failures are usage errors (exit code 2). */
final class PreprocessOptions {
    private PreprocessOptions() {}

    /** The worker count: the option's value, or every core when it is absent. */
    static int threads(CommandSpec spec, Integer option) {
        if (option == null) {
            return Runtime.getRuntime().availableProcessors();
        }
        if (option < 1) {
            throw new ParameterException(spec.commandLine(), "--threads must be at least 1, got " + option);
        }
        return option;
    }

    static void requireDirectory(CommandSpec spec, Path dir, String option) {
        if (!Files.isDirectory(dir)) {
            throw new ParameterException(spec.commandLine(), option + " " + dir + " is not a directory");
        }
    }
}
