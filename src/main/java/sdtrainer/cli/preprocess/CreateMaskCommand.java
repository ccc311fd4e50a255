package sdtrainer.cli.preprocess;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sdtrainer.preprocess.FaceMask;
import sdtrainer.preprocess.Progress;

/** {@code preprocess create-mask}: the original {@code create_mask.py} with its option names. */
@Command(name = "create-mask", sortOptions = false,
        description = {"Finds faces in every image of a folder with an OpenCV LBP cascade and writes a mask at latent"
            + " size, <stem>.npz (arr_0, float32 [H/f, W/f]): 0.05 everywhere, 1.0 inside each face, for --mask."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every mask written", "1:some image failed", "2:invalid options"})
public final class CreateMaskCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--path", required = true, paramLabel = "DIR", description = "folder of (bucketed) images")
    private Path path;

    @Option(names = "--output_path", required = true, paramLabel = "DIR",
            description = "folder for the <stem>.npz masks (created if missing); the dataset folder for training")
    private Path outputPath;

    @Option(names = "--cascade", defaultValue = "lbpcascade_animeface.xml", paramLabel = "FILE",
            description = "OpenCV cascade XML, e.g. lbpcascade_animeface.xml from github.com/nagadomi/lbpcascade_animeface"
                + " (default: ${DEFAULT-VALUE} in the current directory)")
    private Path cascade;

    @Option(names = "--scale_factor", defaultValue = "8", paramLabel = "F",
            description = "image side / mask side, the VAE's downsampling factor (default: ${DEFAULT-VALUE})")
    private int scaleFactor;

    @Option(names = "--equalize",
            description = "equalise the grey image's histogram before detecting (the cascade README's setting;"
                + " default: off, as the original)")
    private boolean equalize;

    @Option(names = "--min_neighbors", defaultValue = "3", paramLabel = "N",
            description = "overlapping detections a face needs; the cascade README uses 5 (default: ${DEFAULT-VALUE},"
                + " OpenCV's and the original's)")
    private int minNeighbors;

    @Option(names = "--min_size", defaultValue = "0", paramLabel = "PX",
            description = "smallest face side in pixels, 0 for none; the cascade README uses 24 (default: ${DEFAULT-VALUE})")
    private int minSize;

    @Option(names = "--expand", defaultValue = "1.0", paramLabel = "F",
            description = "scale each face box by F about its centre, e.g. 1.5 to cover hair (default: ${DEFAULT-VALUE})")
    private double expand;

    @Mixin
    private PreprocessOptions common = new PreprocessOptions();

    @Override
    public Integer call() throws InterruptedException {
        FaceMask.Options options = common.options(() -> new FaceMask.Options(cascade, scaleFactor,
                new FaceMask.Detection(equalize, minNeighbors, minSize), expand));
        int workers = common.workers();
        common.requireDirectory(path, "--path");
        PrintWriter err = spec.commandLine().getErr();
        try {
            Progress.Summary summary = FaceMask.run(path, outputPath, options, workers,
                    common.progress());
            return summary.anyFailed() ? 1 : 0;
        } catch (IOException e) {
            err.println("create-mask: " + e.getMessage());
            return 1;
        }
    }
}
