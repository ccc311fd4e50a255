package sdtrainer.data;

import com.drew.imaging.ImageMetadataReader;
import com.drew.imaging.ImageProcessingException;
import com.drew.metadata.Metadata;
import com.drew.metadata.exif.ExifIFD0Directory;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import sdtrainer.io.AtomicFiles;

/**
 * Image decoding, resampling and encoding shared by preprocessing and training.
 *
 * <p>Every decoded image is {@code TYPE_INT_RGB} in display orientation: transparency is composited
 * on white, EXIF orientation is applied, and grey, 16-bit and palette images are converted sample by
 * sample. Decoders' warnings (a truncated JPEG is only a warning to ImageIO) are turned into errors.
 */
public final class Images {
    /** Lanczos window half-width in output pixels (at scale 1). */
    private static final double LANCZOS_A = 3.0;

    private Images() {}

    /** Pixel dimensions of an image. */
    public record Size(int width, int height) {}

    /**
     * Decodes an image file to {@code TYPE_INT_RGB}.
     *
     * @throws IOException naming the file when it is unreadable, truncated, corrupt or of an unknown format
     */
    public static BufferedImage read(Path file) throws IOException {
        BufferedImage decoded;
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) {
                throw new IOException(file + ": cannot open file (missing or unreadable)");
            }
            ImageReader reader = firstReader(in, file);
            List<String> warnings = new ArrayList<>();
            reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
            try {
                reader.setInput(in, true, true);
                decoded = reader.read(0);
            } finally {
                reader.dispose();
            }
            if (!warnings.isEmpty()) {
                throw new IOException(file + ": corrupt image: " + String.join("; ", warnings));
            }
        } catch (IOException e) {
            throw named(file, e);
        } catch (RuntimeException e) {
            // Decoders signal some malformed data with unchecked exceptions (array bounds, illegal arguments).
            throw new IOException(file + ": corrupt image: " + e, e);
        }
        return orient(toRgbOnWhite(decoded), exifOrientation(file));
    }

    /**
     * Decodes the whole file as {@link #read} does, so a dataset check finds what training would (a truncated
     * JPEG passes a header read); returns the decoded size.
     */
    public static Size verify(Path file) throws IOException {
        BufferedImage decoded = read(file);
        return new Size(decoded.getWidth(), decoded.getHeight());
    }

    /** Reads only the header of an image file; no EXIF rotation is applied. */
    public static Size readSize(Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) {
                throw new IOException(file + ": cannot open file (missing or unreadable)");
            }
            ImageReader reader = firstReader(in, file);
            try {
                reader.setInput(in, true, true);
                return new Size(reader.getWidth(0), reader.getHeight(0));
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw named(file, e);
        } catch (RuntimeException e) {
            throw new IOException(file + ": corrupt image: " + e, e);
        }
    }

    private static ImageReader firstReader(ImageInputStream in, Path file) throws IOException {
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        if (!readers.hasNext()) {
            throw new IOException(file + ": not an image in a supported format (jpg, png, bmp, webp)");
        }
        return readers.next();
    }

    private static IOException named(Path file, IOException e) {
        if (e.getMessage() != null && e.getMessage().startsWith(file.toString())) {
            return e;
        }
        String message = describe(e);
        if (e.getCause() != null) {
            message += " (" + describe(e.getCause()) + ")"; // ImageIO hides the actual defect in the cause
        }
        return new IOException(file + ": " + message, e);
    }

    private static String describe(Throwable t) {
        if (t.getMessage() != null) {
            return t.getMessage();
        }
        return t instanceof EOFException ? "file ends early" : t.getClass().getSimpleName();
    }

    /**
     * Converts any decoded image to opaque 8-bit sRGB. Grey and sRGB component images (8 or 16 bits, the
     * PNG/JPEG/BMP decoders' output) are mapped sample by sample: Java's grey colour space is linear and
     * its own conversion would brighten them, and the per-pixel {@code getRGB} path is slow.
     */
    static BufferedImage toRgbOnWhite(BufferedImage src) {
        int w = src.getWidth();
        int h = src.getHeight();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        WritableRaster dst = out.getRaster();
        ColorModel cm = src.getColorModel();
        boolean alpha = cm.hasAlpha();
        int[] row = new int[w];
        if (isPlainComponentModel(cm)) {
            int colours = cm.getNumColorComponents();
            int bands = cm.getNumComponents();
            double[] scale = new double[bands];
            for (int b = 0; b < bands; b++) {
                scale[b] = 255.0 / ((1L << cm.getComponentSize(b)) - 1);
            }
            int[] samples = new int[w * bands];
            for (int y = 0; y < h; y++) {
                src.getRaster().getPixels(0, y, w, 1, samples);
                for (int x = 0, i = 0; x < w; x++, i += bands) {
                    int r = (int) Math.round(samples[i] * scale[0]);
                    int g = colours == 1 ? r : (int) Math.round(samples[i + 1] * scale[1]);
                    int b = colours == 1 ? r : (int) Math.round(samples[i + 2] * scale[2]);
                    int a = alpha ? (int) Math.round(samples[i + colours] * scale[colours]) : 255;
                    row[x] = overWhite(r, a) << 16 | overWhite(g, a) << 8 | overWhite(b, a);
                }
                dst.setDataElements(0, y, w, 1, row);
            }
            return out;
        }
        for (int y = 0; y < h; y++) {
            src.getRGB(0, y, w, 1, row, 0, w); // non-premultiplied sRGB ARGB for every colour model
            if (alpha) {
                for (int x = 0; x < w; x++) {
                    int p = row[x];
                    int a = p >>> 24;
                    row[x] = overWhite(p >> 16 & 0xff, a) << 16 | overWhite(p >> 8 & 0xff, a) << 8 | overWhite(p & 0xff, a);
                }
            }
            dst.setDataElements(0, y, w, 1, row);
        }
        return out;
    }

    /** Grey or sRGB samples of 1-16 bits, alpha not premultiplied: the samples are the display values. */
    private static boolean isPlainComponentModel(ColorModel cm) {
        if (!(cm instanceof ComponentColorModel) || cm.isAlphaPremultiplied()) {
            return false;
        }
        int transfer = cm.getTransferType();
        ColorSpace cs = cm.getColorSpace();
        return (transfer == DataBuffer.TYPE_BYTE || transfer == DataBuffer.TYPE_USHORT)
                && (cs.getType() == ColorSpace.TYPE_GRAY || cs.isCS_sRGB());
    }

    /** One row of an RGB image as packed {@code 0xRRGGBB} ints (alpha, if any, ignored). */
    private static void rgbRow(BufferedImage img, int y, int[] row) {
        int w = img.getWidth();
        if (img.getType() == BufferedImage.TYPE_INT_RGB) {
            img.getRaster().getDataElements(0, y, w, 1, row); // a copy of the packed ints, no colour conversion
        } else {
            img.getRGB(0, y, w, 1, row, 0, w);
        }
    }

    private static int overWhite(int c, int a) {
        return (c * a + 255 * (255 - a) + 127) / 255;
    }

    /** The EXIF orientation (1..8) of a file, 1 when it has none or its metadata cannot be parsed. */
    private static int exifOrientation(Path file) {
        try {
            Metadata metadata = ImageMetadataReader.readMetadata(file.toFile());
            for (ExifIFD0Directory dir : metadata.getDirectoriesOfType(ExifIFD0Directory.class)) {
                Integer o = dir.getInteger(ExifIFD0Directory.TAG_ORIENTATION);
                if (o != null && o >= 1 && o <= 8) {
                    return o;
                }
            }
        } catch (ImageProcessingException | IOException | RuntimeException e) {
            // The pixels decoded fine; unreadable metadata only means no rotation is known.
        }
        return 1;
    }

    /** Applies an EXIF orientation to a {@code TYPE_INT_RGB} image so that it is in display orientation. */
    static BufferedImage orient(BufferedImage img, int orientation) {
        if (orientation == 1) {
            return img;
        }
        int w = img.getWidth();
        int h = img.getHeight();
        boolean swap = orientation >= 5;
        int ow = swap ? h : w;
        int oh = swap ? w : h;
        int[] src = (int[]) img.getRaster().getDataElements(0, 0, w, h, null);
        int[] dst = new int[ow * oh];
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                int sx;
                int sy;
                switch (orientation) {
                    case 2 -> { sx = w - 1 - x; sy = y; }
                    case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }
                    case 4 -> { sx = x; sy = h - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = h - 1 - x; }
                    case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }
                    case 8 -> { sx = w - 1 - y; sy = x; }
                    default -> throw new IllegalArgumentException("EXIF orientation " + orientation);
                }
                dst[y * ow + x] = src[sy * w + sx];
            }
        }
        BufferedImage out = new BufferedImage(ow, oh, BufferedImage.TYPE_INT_RGB);
        out.getRaster().setDataElements(0, 0, ow, oh, dst);
        return out;
    }

    /**
     * Resamples an RGB image to {@code width × height} with a separable Lanczos-3 filter. When shrinking,
     * the kernel is stretched by the scale factor so every source pixel contributes (antialiasing).
     */
    public static BufferedImage resize(BufferedImage src, int width, int height) {
        return resampleWindow(src, width, height, 0, 0, width, height);
    }

    /**
     * Scales an image, keeping its aspect ratio, to the smallest size that covers {@code width × height}
     * and crops the centre of exactly that size.
     */
    public static BufferedImage coverAndCenterCrop(BufferedImage src, int width, int height) {
        checkSize(width, height);
        long sw = src.getWidth();
        long sh = src.getHeight();
        int scaledW;
        int scaledH;
        // Integer comparison of the ratios: sw/sh >= width/height fits the height and crops the sides.
        if (sw * height >= (long) width * sh) {
            scaledH = height;
            scaledW = (int) (sw * height / sh);
        } else {
            scaledW = width;
            scaledH = (int) (sh * width / sw);
        }
        return resampleWindow(src, scaledW, scaledH, (scaledW - width) / 2, (scaledH - height) / 2, width, height);
    }

    /**
     * Computes the window {@code [x0, x0+w) × [y0, y0+h)} of the image resampled to {@code fullW × fullH},
     * without computing the pixels outside it.
     */
    private static BufferedImage resampleWindow(BufferedImage src, int fullW, int fullH, int x0, int y0, int w, int h) {
        checkSize(fullW, fullH);
        int sw = src.getWidth();
        Taps cols = Taps.of(sw, fullW, x0, w);
        Taps rows = Taps.of(src.getHeight(), fullH, y0, h);
        int firstRow = rows.minSource();
        int rowCount = rows.maxSourceExclusive() - firstRow;

        // Horizontal pass over only the source rows the vertical pass needs; planar float channels.
        float[][] mid = new float[3][rowCount * w];
        int[] line = new int[sw];
        float[][] in = new float[3][sw];
        for (int r = 0; r < rowCount; r++) {
            rgbRow(src, firstRow + r, line);
            for (int x = 0; x < sw; x++) {
                int p = line[x];
                in[0][x] = p >> 16 & 0xff;
                in[1][x] = p >> 8 & 0xff;
                in[2][x] = p & 0xff;
            }
            for (int c = 0; c < 3; c++) {
                cols.apply(in[c], mid[c], r * w);
            }
        }

        // Vertical pass row by row, so the inner loop runs along contiguous memory.
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        WritableRaster dst = out.getRaster();
        float[][] acc = new float[3][w];
        int[] outRow = new int[w];
        for (int y = 0; y < h; y++) {
            float[] wt = rows.weight()[y];
            int base = rows.start()[y] - firstRow;
            for (int c = 0; c < 3; c++) {
                float[] a = acc[c];
                float[] m = mid[c];
                Arrays.fill(a, 0f);
                for (int k = 0; k < wt.length; k++) {
                    float wk = wt[k];
                    int off = (base + k) * w;
                    for (int x = 0; x < w; x++) {
                        a[x] += wk * m[off + x];
                    }
                }
            }
            for (int x = 0; x < w; x++) {
                outRow[x] = clamp(acc[0][x]) << 16 | clamp(acc[1][x]) << 8 | clamp(acc[2][x]);
            }
            dst.setDataElements(0, y, w, 1, outRow);
        }
        return out;
    }

    private static int clamp(float v) {
        int i = Math.round(v);
        return i < 0 ? 0 : Math.min(255, i);
    }

    private static void checkSize(int width, int height) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
    }

    /**
     * Filter taps of a 1-D resampling from {@code inSize} to {@code outSize} samples, for the output
     * samples {@code [first, first+count)}: output i reads input {@code start[i] + k} with weight
     * {@code weight[i][k]}.
     */
    private record Taps(int[] start, float[][] weight) {
        static Taps of(int inSize, int outSize, int first, int count) {
            double scale = (double) inSize / outSize;
            double stretch = Math.max(scale, 1.0);
            double support = LANCZOS_A * stretch;
            int[] start = new int[count];
            float[][] weight = new float[count][];
            for (int i = 0; i < count; i++) {
                double centre = (first + i + 0.5) * scale; // in input pixel units
                int lo = Math.max(0, (int) Math.floor(centre - support));
                int hi = Math.min(inSize, (int) Math.ceil(centre + support));
                double[] wt = new double[hi - lo];
                double sum = 0;
                for (int k = 0; k < wt.length; k++) {
                    wt[k] = lanczos((lo + k + 0.5 - centre) / stretch);
                    sum += wt[k];
                }
                float[] norm = new float[wt.length];
                for (int k = 0; k < wt.length; k++) {
                    norm[k] = (float) (wt[k] / sum);
                }
                start[i] = lo;
                weight[i] = norm;
            }
            return new Taps(start, weight);
        }

        int minSource() {
            int min = Integer.MAX_VALUE;
            for (int s : start) {
                min = Math.min(min, s);
            }
            return min;
        }

        int maxSourceExclusive() {
            int max = 0;
            for (int i = 0; i < start.length; i++) {
                max = Math.max(max, start[i] + weight[i].length);
            }
            return max;
        }

        /** out[outOff + i] = Σ_k weight[i][k] · in[start[i] + k]. */
        void apply(float[] in, float[] out, int outOff) {
            for (int i = 0; i < start.length; i++) {
                float[] wt = weight[i];
                int base = start[i];
                float acc = 0;
                for (int k = 0; k < wt.length; k++) {
                    acc += wt[k] * in[base + k];
                }
                out[outOff + i] = acc;
            }
        }
    }

    private static double lanczos(double x) {
        double ax = Math.abs(x);
        if (ax < 1e-9) {
            return 1.0;
        }
        if (ax >= LANCZOS_A) {
            return 0.0;
        }
        double px = Math.PI * x;
        return LANCZOS_A * Math.sin(px) * Math.sin(px / LANCZOS_A) / (px * px);
    }

    /** RGB planar {@code [3, H, W]} floats scaled to [-1, 1], the VAE's input layout. */
    public static float[] toCHW(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        int plane = w * h;
        float[] out = new float[3 * plane];
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            rgbRow(img, y, row);
            for (int x = 0; x < w; x++) {
                int p = row[x];
                int i = y * w + x;
                out[i] = (p >> 16 & 0xff) / 127.5f - 1f;
                out[plane + i] = (p >> 8 & 0xff) / 127.5f - 1f;
                out[2 * plane + i] = (p & 0xff) / 127.5f - 1f;
            }
        }
        return out;
    }

    /** Writes an image as PNG atomically: the target is either absent/old or complete. */
    public static void writePng(BufferedImage img, Path target) throws IOException {
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("png");
        if (!writers.hasNext()) {
            throw new IllegalStateException("no PNG encoder in this Java runtime");
        }
        ImageWriter writer = writers.next();
        try {
            AtomicFiles.write(target, out -> {
                // An in-memory cache keeps ImageIO from creating its own temporary files.
                try (MemoryCacheImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
                    writer.setOutput(stream);
                    writer.write(null, new IIOImage(img, null, null), null);
                }
            });
        } finally {
            writer.dispose();
        }
    }

    /** True when the file name has one of the image extensions the preprocessors accept. */
    public static boolean isImageFile(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return Files.isRegularFile(file)
                && (name.endsWith(".jpg") || name.endsWith(".jpeg") || name.endsWith(".png")
                        || name.endsWith(".bmp") || name.endsWith(".webp"));
    }
}
