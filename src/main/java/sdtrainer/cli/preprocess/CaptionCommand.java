package sdtrainer.cli.preprocess;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sdtrainer.preprocess.Caption;
import sdtrainer.preprocess.Progress;

/** {@code preprocess caption}: the original {@code caption_preprocessor.py} with its option names. */
@Command(name = "caption", sortOptions = false,
        description = {"Writes <stem>.caption for every danbooru metadata file of a folder (<stem>.json, else"
            + " <stem>.txt; JSON or Python dict text), with or without an image: quality/rating/resolution metatags,"
            + " characters, copyright, artist and general tags. Files that are not danbooru metadata are reported"
            + " by name and skipped."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every caption written", "1:some metadata failed", "2:invalid options"})
public final class CaptionCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--dataset", required = true, paramLabel = "DIR",
            description = "folder of metadata files (usually beside their images); captions are written beside them")
    private Path dataset;

    @Option(names = "--use_origin_tag",
            description = "take general tags from danbooru's tag_string_general instead of the tagger field")
    private boolean useOriginTag;

    @Option(names = "--exclude_tags", paramLabel = "FILE",
            description = "file of tags to leave out, one per line or comma-separated (# starts a comment line)")
    private Path excludeTagsFile;

    @Mixin
    private PreprocessOptions common = new PreprocessOptions();

    @Override
    public Integer call() throws InterruptedException {
        int workers = common.workers();
        common.requireDirectory(dataset, "--dataset");
        PrintWriter err = spec.commandLine().getErr();
        Set<String> exclude = Set.of();
        if (excludeTagsFile != null) {
            if (!Files.isRegularFile(excludeTagsFile)) {
                throw new ParameterException(spec.commandLine(), "--exclude_tags " + excludeTagsFile + " is not a file");
            }
            try {
                exclude = Caption.readExcludeTags(excludeTagsFile);
            } catch (IOException e) {
                err.println("caption: cannot read " + excludeTagsFile + ": " + e.getMessage());
                return 1;
            }
        }
        try {
            Progress.Summary summary = Caption.run(dataset, new Caption.Options(useOriginTag, exclude), workers,
                    common.progress("files"));
            return summary.anyFailed() ? 1 : 0;
        } catch (IOException e) {
            err.println("caption: " + e.getMessage());
            return 1;
        }
    }
}
