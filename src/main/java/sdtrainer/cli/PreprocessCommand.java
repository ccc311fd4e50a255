package sdtrainer.cli;

import picocli.CommandLine.Command;
import sdtrainer.cli.preprocess.BucketingCommand;
import sdtrainer.cli.preprocess.CaptionCommand;

/** {@code sd-trainer preprocess <name>}: the dataset preparation steps. */
@Command(name = "preprocess", mixinStandardHelpOptions = true,
        description = "Prepare a dataset: bucketing, caption.",
        subcommands = {BucketingCommand.class, CaptionCommand.class})
public final class PreprocessCommand {
}
