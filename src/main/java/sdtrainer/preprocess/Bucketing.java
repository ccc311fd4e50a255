package sdtrainer.preprocess;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import sdtrainer.data.Images;
import sdtrainer.data.SourceSize;
import sdtrainer.io.AtomicFiles;

/**
 * Aspect-ratio bucketing, as the original {@code preprocess/bucketing.py}: every image goes to the bucket
 * of nearest aspect ratio, is scaled to cover it and centre-cropped to exactly its size, and is written
 * as {@code <stem>.png}; {@code buckets.json} maps {@code "(W, H)"} to the stems in that bucket.
 * Outputs already present with a bucket's size are kept (resume), captions beside the images are copied.
 */
public final class Bucketing {
    /** Bucket sides are multiples of this (VAE ÷8, then UNet ÷8). */
    public static final int INCREMENT = 64;
    public static final String BUCKETS_FILE = "buckets.json";
    private static final List<String> CAPTION_EXTENSIONS = List.of(".txt", ".caption");

    private Bucketing() {}

    /** The original script's bucket parameters. */
    public record Options(int resolution, int minLength, int maxLength, double maxRatio) {
        public static final Options DEFAULTS = new Options(768, 512, 1024, 2.0);

        public Options {
            if (resolution <= 0 || minLength <= 0) {
                throw new IllegalArgumentException("resolution and min_length must be positive");
            }
            if (maxLength < minLength) {
                throw new IllegalArgumentException("max_length (" + maxLength + ") is below min_length (" + minLength + ")");
            }
            if (!(maxRatio >= 1.0) || Double.isInfinite(maxRatio)) {
                throw new IllegalArgumentException("max_ratio must be a finite number >= 1, got " + maxRatio);
            }
        }
    }

    /** A bucket size; {@link #key()} is the text the original wrote for the Python tuple. */
    public record Bucket(int width, int height) {
        public double ratio() {
            return (double) width / height;
        }

        public String key() {
            return "(" + width + ", " + height + ")";
        }
    }

    /** The buckets with their stems (in file-name order) and the run's totals. */
    public record Result(Map<Bucket, List<String>> buckets, Progress.Summary summary) {}

    /**
     * The original's bucket set, sorted by aspect ratio: (res, res), plus for each width from min_length
     * to max_length in steps of 64 the largest height within res² pixels (a multiple of 64, at most
     * max_length), kept with its transpose when its ratio lies within [1/max_ratio, max_ratio].
     */
    public static List<Bucket> buckets(Options options) {
        long maxPixels = (long) options.resolution() * options.resolution();
        Set<Bucket> set = new LinkedHashSet<>();
        set.add(new Bucket(options.resolution(), options.resolution()));
        for (long width = options.minLength(); width <= options.maxLength(); width += INCREMENT) {
            long fit = maxPixels / width;
            long height = Math.min(options.maxLength(), fit - fit % INCREMENT);
            if (height <= 0) {
                continue; // the original divides by zero here
            }
            double ratio = (double) width / height;
            if (1 / options.maxRatio() <= ratio && ratio <= options.maxRatio()) {
                set.add(new Bucket((int) width, (int) height));
                set.add(new Bucket((int) height, (int) width));
            }
        }
        List<Bucket> sorted = new ArrayList<>(set);
        sorted.sort(Comparator.comparingDouble(Bucket::ratio).thenComparingInt(Bucket::width));
        return List.copyOf(sorted);
    }

    /** The bucket whose aspect ratio is nearest to {@code width/height}; ties go to the narrower bucket. */
    public static Bucket nearest(List<Bucket> sortedBuckets, int width, int height) {
        double ratio = (double) width / height;
        Bucket best = null;
        double bestError = Double.POSITIVE_INFINITY;
        for (Bucket b : sortedBuckets) {
            double error = Math.abs(b.ratio() - ratio);
            if (error < bestError) {
                best = b;
                bestError = error;
            }
        }
        return best;
    }

    /** One input image; {@code duplicateOf} is the earlier input whose stem it shares, if any. */
    private record Input(Path file, String stem, Path duplicateOf) {}

    private record Assignment(String stem, Bucket bucket, SourceSize source) {}

    /**
     * Buckets every image of {@code inputDir} (jpg, jpeg, png, bmp, webp) into {@code outputDir}.
     *
     * @throws IOException when a directory cannot be listed or created, or buckets.json cannot be written
     */
    public static Result run(Path inputDir, Path outputDir, Options options, int threads, Progress progress)
            throws IOException, InterruptedException {
        List<Bucket> buckets = buckets(options);
        Set<Bucket> bucketSet = Set.copyOf(buckets);
        Files.createDirectories(outputDir);
        List<Input> inputs = listInputs(inputDir);
        Map<String, SourceSize> earlier = SourceSize.read(outputDir.resolve(SourceSize.FILE));

        List<Assignment> assigned = ParallelJobs.run(inputs, threads, progress,
                input -> input.file().getFileName().toString(),
                input -> process(input, outputDir, buckets, bucketSet, earlier));

        Map<Bucket, List<String>> stemsOf = new HashMap<>();
        for (Assignment a : assigned) {
            stemsOf.computeIfAbsent(a.bucket(), b -> new ArrayList<>()).add(a.stem());
        }
        Map<Bucket, List<String>> byBucket = new LinkedHashMap<>(); // in bucket (aspect ratio) order
        for (Bucket b : buckets) {
            if (stemsOf.containsKey(b)) {
                byBucket.put(b, List.copyOf(stemsOf.get(b)));
            }
        }
        Map<String, SourceSize> sizes = new HashMap<>();
        assigned.forEach(a -> sizes.put(a.stem(), a.source()));
        SourceSize.write(outputDir.resolve(SourceSize.FILE), sizes);
        writeBucketsJson(outputDir.resolve(BUCKETS_FILE), byBucket);
        return new Result(Collections.unmodifiableMap(byBucket), progress.finish());
    }

    private static List<Input> listInputs(Path inputDir) throws IOException {
        List<Path> files;
        try (Stream<Path> listing = Files.list(inputDir)) {
            files = listing.filter(Images::isImageFile).sorted().toList();
        }
        Map<String, Path> firstByStem = new HashMap<>();
        List<Input> inputs = new ArrayList<>(files.size());
        for (Path file : files) {
            String stem = stem(file);
            Path first = firstByStem.putIfAbsent(stem, file);
            inputs.add(new Input(file, stem, first));
        }
        return inputs;
    }

    private static ParallelJobs.Outcome<Assignment> process(Input input, Path outputDir, List<Bucket> buckets,
            Set<Bucket> bucketSet, Map<String, SourceSize> earlier) throws IOException {
        if (input.duplicateOf() != null) {
            throw new IOException(input.file() + ": has the same name as " + input.duplicateOf().getFileName()
                    + "; both would be written to " + input.stem() + ".png");
        }
        Path target = outputDir.resolve(input.stem() + ".png");
        Bucket done = existingBucket(target, bucketSet);
        if (done != null) {
            copyCaptions(input, outputDir);
            SourceSize source = earlier.get(input.stem());
            if (source == null) { // kept from a run before sizes.json: the source's size as decoded (EXIF applied)
                BufferedImage image = Images.read(input.file());
                source = SourceSize.coverAndCenterCrop(image.getWidth(), image.getHeight(), done.width(), done.height());
            }
            return ParallelJobs.Outcome.skipped(new Assignment(input.stem(), done, source));
        }
        BufferedImage image = Images.read(input.file());
        Bucket bucket = nearest(buckets, image.getWidth(), image.getHeight());
        Images.writePng(Images.coverAndCenterCrop(image, bucket.width(), bucket.height()), target);
        copyCaptions(input, outputDir);
        return ParallelJobs.Outcome.processed(new Assignment(input.stem(), bucket,
                SourceSize.coverAndCenterCrop(image.getWidth(), image.getHeight(), bucket.width(), bucket.height())));
    }

    /** The bucket of an output written by an earlier run, or null when it must be (re)made. */
    private static Bucket existingBucket(Path target, Set<Bucket> bucketSet) {
        if (!Files.isRegularFile(target)) {
            return null;
        }
        try {
            Images.Size size = Images.readSize(target);
            Bucket b = new Bucket(size.width(), size.height());
            return bucketSet.contains(b) ? b : null; // other sizes come from other bucket options
        } catch (IOException e) {
            return null;
        }
    }

    private static void copyCaptions(Input input, Path outputDir) throws IOException {
        Path dir = input.file().getParent();
        for (String ext : CAPTION_EXTENSIONS) {
            Path caption = dir.resolve(input.stem() + ext);
            if (Files.isRegularFile(caption)) {
                AtomicFiles.writeBytes(outputDir.resolve(input.stem() + ext), Files.readAllBytes(caption));
            }
        }
    }

    private static void writeBucketsJson(Path file, Map<Bucket, List<String>> byBucket) throws IOException {
        Map<String, List<String>> json = new LinkedHashMap<>();
        byBucket.forEach((bucket, stems) -> json.put(bucket.key(), stems));
        AtomicFiles.writeBytes(file, new ObjectMapper().writeValueAsBytes(json));
    }

    static String stem(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }
}
