package sdtrainer.cli;

import picocli.CommandLine.Command;
import sdtrainer.cli.preprocess.BucketingCommand;
import sdtrainer.cli.preprocess.CaptionCommand;
import sdtrainer.cli.preprocess.CreateMaskCommand;
import sdtrainer.cli.preprocess.LatentCommand;
import sdtrainer.cli.preprocess.TaggerCommand;

/** {@code sd-trainer preprocess <name>}: the dataset preparation steps. */
@Command(name = "preprocess", mixinStandardHelpOptions = true,
        description = "Prepare a dataset: bucketing, tagger, caption, latent, create-mask.",
        subcommands = {BucketingCommand.class, TaggerCommand.class, CaptionCommand.class, LatentCommand.class,
            CreateMaskCommand.class})
public final class PreprocessCommand {
}
