package sdtrainer.preprocess;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.opencv.core.CvException;
import org.opencv.core.CvType;
import org.opencv.core.Mat;
import org.opencv.core.MatOfRect;
import org.opencv.core.Rect;
import org.opencv.core.Size;
import org.opencv.imgproc.Imgproc;
import org.opencv.objdetect.CascadeClassifier;
import sdtrainer.data.Images;
import sdtrainer.data.OpenCvNatives;
import sdtrainer.io.Npz;
import sdtrainer.io.TensorData;

/**
 * Face masks for masked training, as the original {@code preprocess/create_mask.py}: faces are found with
 * an OpenCV LBP cascade (nagadomi's {@code lbpcascade_animeface.xml}) on the grey image with
 * {@code detectMultiScale}'s defaults (see {@link Detection}), each box is optionally grown by a factor, and each
 * image gets a mask at latent size, {@link #BACKGROUND} everywhere and {@link #FACE} inside every
 * face box, saved as {@code <stem>.npz} ({@code arr_0}, float32 [H/f, W/f]).
 */
public final class FaceMask {
    /** The weight outside faces; not 0, so the rest of the image still trains a little. */
    public static final float BACKGROUND = 0.05f;
    public static final float FACE = 1.0f;

    static {
        OpenCvNatives.load();
    }

    private FaceMask() {}

    /** A detected face in image pixels. */
    public record Box(int x, int y, int width, int height) {}

    /**
     * How faces are searched for. {@link #ORIGINAL} is what the original script did: OpenCV's
     * {@code detectMultiScale} defaults on the plain grey image (scale step 1.1, 3 neighbours, no minimum size).
     * {@link #CASCADE_README} is what the cascade's README recommends (equalised histogram, 5 neighbours,
     * faces of at least 24 px): fewer false positives, but it misses large faces that the defaults find.
     *
     * @param equalize equalise the grey image's histogram first
     * @param minNeighbors overlapping detections a face needs to be kept
     * @param minSize the smallest face side in pixels (0: no limit)
     */
    public record Detection(boolean equalize, int minNeighbors, int minSize) {
        public static final Detection ORIGINAL = new Detection(false, 3, 0);
        public static final Detection CASCADE_README = new Detection(true, 5, 24);

        public Detection {
            if (minNeighbors < 0 || minSize < 0) {
                throw new IllegalArgumentException("need min_neighbors >= 0 and min_size >= 0, got " + minNeighbors
                        + ", " + minSize);
            }
        }
    }

    /**
     * @param cascade the OpenCV cascade XML
     * @param scaleFactor image side / mask side: the VAE's downsampling factor (8 for Stable Diffusion)
     * @param detection how faces are found
     * @param expand each box is scaled by this factor about its centre (1: as detected), then clipped to the image
     */
    public record Options(Path cascade, int scaleFactor, Detection detection, double expand) {
        public Options {
            if (scaleFactor < 1) {
                throw new IllegalArgumentException("scale_factor must be at least 1, got " + scaleFactor);
            }
            if (!(expand > 0) || Double.isInfinite(expand)) {
                throw new IllegalArgumentException("expand must be a positive number, got " + expand);
            }
        }
    }

    /** An OpenCV cascade; not thread-safe, so each worker thread has its own. */
    public static final class Detector {
        private final CascadeClassifier classifier;
        private final Detection detection;

        /** @throws IOException naming the file when it is missing or not a cascade OpenCV can read */
        public Detector(Path cascade, Detection detection) throws IOException {
            if (!Files.isRegularFile(cascade)) {
                throw new IOException(cascade + ": cascade file missing (lbpcascade_animeface.xml is at"
                        + " github.com/nagadomi/lbpcascade_animeface)");
            }
            try {
                classifier = new CascadeClassifier(cascade.toAbsolutePath().toString());
            } catch (CvException e) {
                throw new IOException(cascade + ": not an OpenCV cascade classifier XML: " + e.getMessage(), e);
            }
            if (classifier.empty()) {
                throw new IOException(cascade + ": not an OpenCV cascade classifier XML");
            }
            this.detection = detection;
        }

        /** Faces in an RGB image, sorted by x, then y, then size. */
        public List<Box> detect(BufferedImage image) {
            int w = image.getWidth();
            int h = image.getHeight();
            byte[] bgr = new byte[w * h * 3];
            int[] row = new int[w];
            for (int y = 0, i = 0; y < h; y++) {
                image.getRGB(0, y, w, 1, row, 0, w);
                for (int x = 0; x < w; x++, i += 3) {
                    int p = row[x];
                    bgr[i] = (byte) p;
                    bgr[i + 1] = (byte) (p >> 8);
                    bgr[i + 2] = (byte) (p >> 16);
                }
            }
            Mat colour = new Mat(h, w, CvType.CV_8UC3);
            Mat grey = new Mat();
            MatOfRect found = new MatOfRect();
            try {
                colour.put(0, 0, bgr);
                Imgproc.cvtColor(colour, grey, Imgproc.COLOR_BGR2GRAY);
                if (detection.equalize()) {
                    Imgproc.equalizeHist(grey, grey);
                }
                int min = detection.minSize();
                classifier.detectMultiScale(grey, found, 1.1, detection.minNeighbors(), 0, new Size(min, min), new Size());
                List<Box> boxes = new ArrayList<>();
                for (Rect r : found.toArray()) {
                    boxes.add(new Box(r.x, r.y, r.width, r.height));
                }
                boxes.sort(Comparator.comparingInt(Box::x).thenComparingInt(Box::y).thenComparingInt(Box::width)
                        .thenComparingInt(Box::height));
                return boxes;
            } finally {
                colour.release();
                grey.release();
                found.release();
            }
        }
    }

    /** A box scaled by {@code factor} about its centre (rounded to whole pixels), clipped to a {@code width × height} image. */
    public static Box expand(Box b, double factor, int width, int height) {
        double cx = b.x() + b.width() / 2.0;
        double cy = b.y() + b.height() / 2.0;
        int x0 = (int) Math.max(0, Math.round(cx - b.width() * factor / 2));
        int y0 = (int) Math.max(0, Math.round(cy - b.height() * factor / 2));
        int x1 = (int) Math.min(width, Math.round(cx + b.width() * factor / 2));
        int y1 = (int) Math.min(height, Math.round(cy + b.height() * factor / 2));
        return new Box(x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0));
    }

    /**
     * The mask of a {@code width × height} image, {@code [height/f][width/f]} row-major: {@link #BACKGROUND},
     * and {@link #FACE} on rows {@code y/f .. (y+h)/f} and columns {@code x/f .. (x+w)/f} (end exclusive,
     * integer division, clipped) of every box.
     */
    public static float[] mask(int width, int height, List<Box> faces, int factor) {
        int mw = width / factor;
        int mh = height / factor;
        float[] mask = new float[mw * mh];
        Arrays.fill(mask, BACKGROUND);
        for (Box b : faces) {
            int x0 = Math.max(0, b.x() / factor);
            int y0 = Math.max(0, b.y() / factor);
            int x1 = Math.min(mw, (b.x() + b.width()) / factor);
            int y1 = Math.min(mh, (b.y() + b.height()) / factor);
            for (int y = y0; y < y1; y++) {
                Arrays.fill(mask, y * mw + Math.min(x0, x1), y * mw + x1, FACE);
            }
        }
        return mask;
    }

    /**
     * Writes {@code <stem>.npz} into {@code outputDir} for every image (jpg, jpeg, png, bmp, webp) of
     * {@code directory}; an existing mask is replaced.
     *
     * @throws IOException when the cascade cannot be read or a folder cannot be listed or created
     */
    public static Progress.Summary run(Path directory, Path outputDir, Options options, int threads, Progress progress)
            throws IOException, InterruptedException {
        new Detector(options.cascade(), options.detection()); // fail early on a bad cascade
        ThreadLocal<Detector> detectors = ThreadLocal.withInitial(() -> {
            try {
                return new Detector(options.cascade(), options.detection());
            } catch (IOException e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
        });
        List<Path> images;
        try (Stream<Path> listing = Files.list(directory)) {
            images = listing.filter(Images::isImageFile).sorted().toList();
        }
        Files.createDirectories(outputDir);
        Map<String, Path> firstByStem = new HashMap<>(); // filled before the workers start, only read by them
        images.forEach(p -> firstByStem.putIfAbsent(Bucketing.stem(p), p));
        ParallelJobs.run(images, threads, progress, p -> p.getFileName().toString(), image -> {
            String stem = Bucketing.stem(image);
            Path first = firstByStem.get(stem);
            if (!first.equals(image)) {
                throw new IOException(image + ": has the same name as " + first.getFileName()
                        + "; both would be written to " + stem + ".npz");
            }
            BufferedImage rgb = Images.read(image);
            List<Box> faces = new ArrayList<>();
            for (Box b : detectors.get().detect(rgb)) {
                faces.add(expand(b, options.expand(), rgb.getWidth(), rgb.getHeight()));
            }
            int f = options.scaleFactor();
            float[] mask = mask(rgb.getWidth(), rgb.getHeight(), faces, f);
            long[] shape = {rgb.getHeight() / f, rgb.getWidth() / f};
            Npz.write(outputDir.resolve(stem + ".npz"), List.of(TensorData.ofFloats(shape, mask)), false);
            return ParallelJobs.Outcome.processed(null);
        });
        return progress.finish();
    }
}
