package sdtrainer.cli.preprocess;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sdtrainer.preprocess.Tagger;

/** {@code preprocess tagger}: the original {@code tagger.py} (WD14 tagger) on ONNX Runtime, with its option names. */
@Command(name = "tagger", sortOptions = false,
        description = {"Tags every image of a folder with a WD14 tagger in ONNX form (model.onnx + selected_tags.csv)."
            + " --format metadata adds a \"tagger\" field (space-separated danbooru tags) to the image's metadata"
            + " (<stem>.json or <stem>.txt; written as JSON), for `preprocess caption`; --format caption writes"
            + " <stem>.txt (see --caption_extension) as \"tag one, tag two, ...\".",
            "Prints how many images got each rating."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every image tagged", "1:some image failed", "2:invalid options"})
public final class TaggerCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = {"--directory", "-d"}, required = true, paramLabel = "DIR", description = "folder of images")
    private Path directory;

    @Option(names = {"--output_path", "-o"}, required = true, paramLabel = "DIR",
            description = "folder for the metadata or caption files (created if missing; may be --directory)")
    private Path outputPath;

    @Option(names = {"--model", "--tagger_path"}, required = true, paramLabel = "DIR",
            description = "tagger folder holding model.onnx and selected_tags.csv")
    private Path model;

    @Option(names = {"--threshold", "-t"}, defaultValue = "0.35", paramLabel = "P",
            description = "keep tags more probable than this (default: ${DEFAULT-VALUE})")
    private float threshold;

    @Option(names = {"--batch_size", "-b"}, defaultValue = "64", paramLabel = "N",
            description = "images run through the model together (default: ${DEFAULT-VALUE})")
    private int batchSize;

    @Option(names = {"--image_size", "-i"}, paramLabel = "PX",
            description = "side of the model's input (default: the model's own, else " + Tagger.DEFAULT_IMAGE_SIZE + ")")
    private Integer imageSize;

    @Option(names = "--format", defaultValue = "metadata", paramLabel = "metadata|caption",
            description = "where the tags go (default: ${DEFAULT-VALUE})")
    private String format;

    @Option(names = "--caption_extension", defaultValue = ".txt", paramLabel = "EXT",
            description = "caption file extension with --format caption; .caption for a bucketed training folder"
                + " (default: ${DEFAULT-VALUE})")
    private String captionExtension;

    @Mixin
    private PreprocessOptions common = new PreprocessOptions();

    @Override
    public Integer call() throws InterruptedException {
        Tagger.Options options = common.options(() -> new Tagger.Options(threshold, batchSize, parseFormat(), captionExtension));
        if (imageSize != null && imageSize < 1) {
            throw new ParameterException(spec.commandLine(), "--image_size must be positive, got " + imageSize);
        }
        int workers = common.workers();
        common.requireDirectory(directory, "--directory");
        common.requireDirectory(model, "--model");
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (Tagger tagger = Tagger.load(model, imageSize)) {
            Tagger.Result result = Tagger.run(directory, outputPath, tagger, options, workers,
                    common.progress());
            for (Map.Entry<String, Integer> rating : result.ratings().entrySet()) {
                out.println(rating.getKey() + ": " + rating.getValue());
            }
            out.flush();
            return result.summary().anyFailed() ? 1 : 0;
        } catch (IOException e) {
            err.println("tagger: " + e.getMessage());
            return 1;
        }
    }

    private Tagger.Format parseFormat() {
        return switch (format.toLowerCase(Locale.ROOT)) {
            case "metadata" -> Tagger.Format.METADATA;
            case "caption" -> Tagger.Format.CAPTION;
            default -> throw new IllegalArgumentException("--format must be metadata or caption, got " + format);
        };
    }
}
