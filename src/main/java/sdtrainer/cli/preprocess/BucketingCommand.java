package sdtrainer.cli.preprocess;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sdtrainer.preprocess.Bucketing;

/** {@code preprocess bucketing}: the original {@code bucketing.py} with its option names. */
@Command(name = "bucketing", sortOptions = false,
        description = {"Resizes and centre-crops every image (jpg, jpeg, png, bmp, webp) of a folder to its nearest"
            + " aspect-ratio bucket, writes <stem>.png and buckets.json, and copies .txt/.caption files along.",
            "Images already bucketed in the output folder are kept, so an interrupted run can be resumed."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every image bucketed", "1:some image failed", "2:invalid options"})
public final class BucketingCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = {"--input_dir", "-i"}, required = true, paramLabel = "DIR", description = "folder of source images")
    private Path inputDir;

    @Option(names = {"--output_dir", "-o"}, required = true, paramLabel = "DIR",
            description = "folder for the bucketed PNGs and buckets.json (created if missing)")
    private Path outputDir;

    @Option(names = {"--resolution", "-r"}, defaultValue = "768", paramLabel = "PX",
            description = "side of the square bucket; buckets hold at most PX² pixels (default: ${DEFAULT-VALUE})")
    private int resolution;

    @Option(names = "--min_length", defaultValue = "512", paramLabel = "PX",
            description = "shortest bucket side considered (default: ${DEFAULT-VALUE})")
    private int minLength;

    @Option(names = "--max_length", defaultValue = "1024", paramLabel = "PX",
            description = "longest bucket side (default: ${DEFAULT-VALUE})")
    private int maxLength;

    @Option(names = "--max_ratio", defaultValue = "2.0", paramLabel = "R",
            description = "largest aspect ratio of a bucket; its inverse is the smallest (default: ${DEFAULT-VALUE})")
    private double maxRatio;

    @Mixin
    private PreprocessOptions common = new PreprocessOptions();

    @Override
    public Integer call() throws InterruptedException {
        Bucketing.Options options = common.options(() -> new Bucketing.Options(resolution, minLength, maxLength, maxRatio));
        int workers = common.workers();
        common.requireDirectory(inputDir, "--input_dir");
        if (sameDirectory(inputDir, outputDir)) {
            throw new ParameterException(spec.commandLine(),
                    "--output_dir must differ from --input_dir: outputs named <stem>.png would replace the inputs");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Bucketing.Result result;
        try {
            result = Bucketing.run(inputDir, outputDir, options, workers,
                    common.progress());
        } catch (IOException e) {
            err.println("bucketing: " + e.getMessage());
            return 1;
        }
        for (Map.Entry<Bucketing.Bucket, List<String>> entry : result.buckets().entrySet()) {
            out.println(entry.getKey().key() + ": " + entry.getValue().size());
        }
        out.flush();
        return result.summary().anyFailed() ? 1 : 0;
    }

    private static boolean sameDirectory(Path a, Path b) {
        try {
            if (Files.exists(b)) {
                return Files.isSameFile(a, b);
            }
        } catch (IOException e) {
            // fall through to comparing the paths
        }
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }
}
