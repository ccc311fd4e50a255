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
import java.awt.image.DataBufferInt;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.opencv.core.CvException;
import org.opencv.core.CvType;
import org.opencv.core.Mat;
import org.opencv.core.MatOfByte;
import org.opencv.imgcodecs.Imgcodecs;
import sdtrainer.io.AtomicFiles;

/**
 * Image decoding, resampling and encoding shared by preprocessing and training.
 *
 * <p>Every decoded image is {@code TYPE_INT_RGB} in display orientation: transparency is composited
 * on white, EXIF orientation is applied, and grey, 16-bit, palette and CMYK images are converted sample by
 * sample. JPEG, PNG, BMP and WebP are decoded by OpenCV's codecs (libjpeg-turbo, libpng, libwebp: WebP
 * bit-exactly as PIL, and several times faster than ImageIO); 4-channel (CMYK/YCCK) JPEGs and anything
 * else ImageIO reads go through ImageIO. A JPEG without its end-of-image marker is an error, as in PIL
 * (libjpeg would fill the missing part with grey and only warn). PNGs are written by {@link PngWriter}.
 */
public final class Images {
    private Images() {}

    /** Pixel dimensions of an image. */
    public record Size(int width, int height) {}

    /** OpenCV's natives, loaded the first time a codec is needed. */
    private static final class OpenCv {
        static {
            OpenCvNatives.load();
        }

        static Mat decode(byte[] bytes) {
            MatOfByte encoded = new MatOfByte(bytes);
            try {
                return Imgcodecs.imdecode(encoded, Imgcodecs.IMREAD_UNCHANGED); // no EXIF rotation: applied below
            } finally {
                encoded.release();
            }
        }
    }

    /**
     * Decodes an image file to {@code TYPE_INT_RGB}.
     *
     * @throws IOException naming the file when it is unreadable, truncated, corrupt or of an unknown format
     */
    public static BufferedImage read(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IOException(file + ": cannot open file (missing or unreadable)", e);
        }
        BufferedImage rgb;
        try {
            rgb = decode(bytes, file);
        } catch (IOException e) {
            throw named(file, e);
        } catch (RuntimeException e) {
            // Decoders signal some malformed data with unchecked exceptions (array bounds, illegal arguments).
            throw new IOException(file + ": corrupt image: " + e, e);
        }
        return orient(rgb, exifOrientation(bytes));
    }

    private static BufferedImage decode(byte[] bytes, Path file) throws IOException {
        if (startsWith(bytes, 0, 0xFF, 0xD8)) {
            JpegHeader jpeg = JpegHeader.parse(bytes);
            if (jpeg.components() == 4) {
                return CmykJpeg.toRgb(readRaster(bytes, file), jpeg.adobeTransform());
            }
            if (!jpeg.complete()) {
                throw new IOException(file + ": corrupt image: file ends early (no JPEG end-of-image marker)");
            }
            return decodeWithOpenCv(bytes, file);
        }
        boolean png = startsWith(bytes, 0, 0x89, 'P', 'N', 'G');
        boolean bmp = startsWith(bytes, 0, 'B', 'M');
        boolean webp = startsWith(bytes, 0, 'R', 'I', 'F', 'F') && startsWith(bytes, 8, 'W', 'E', 'B', 'P');
        if (png || bmp || webp) {
            return decodeWithOpenCv(bytes, file);
        }
        return toRgbOnWhite(readWithImageIo(bytes, file));
    }

    /** OpenCV's default CV_IO_MAX_IMAGE_PIXELS: it refuses larger images before allocating them. */
    private static final long MAX_PIXELS = 1L << 30;

    /** Why OpenCV refused an image, in words: its size when the header claims too many pixels, else OpenCV's reason. */
    private static String refusal(Path file, CvException e) {
        try {
            Size s = readSize(file);
            if ((long) s.width() * s.height() > MAX_PIXELS) {
                return "its header claims " + s.width() + "x" + s.height() + " pixels, more than the " + MAX_PIXELS
                        + " (2^30) an image may have";
            }
        } catch (IOException unreadable) {
            // the header says nothing either: OpenCV's own reason below
        }
        String reason = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
        return "the decoder refused it (" + reason.replaceFirst(".*error: ", "") + ")";
    }

    private static boolean startsWith(byte[] bytes, int offset, int... prefix) {
        if (bytes.length < offset + prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if ((bytes[offset + i] & 0xFF) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static BufferedImage decodeWithOpenCv(byte[] bytes, Path file) throws IOException {
        Mat mat;
        try {
            mat = OpenCv.decode(bytes);
        } catch (CvException e) {
            throw new IOException(file + ": corrupt image: " + refusal(file, e), e);
        }
        try {
            if (mat.empty()) {
                throw new IOException(file + ": corrupt image: the decoder could not read it (truncated or damaged)");
            }
            return matToRgbOnWhite(mat);
        } finally {
            mat.release();
        }
    }

    /** OpenCV's 8/16-bit grey, grey+alpha, BGR or BGRA pixels as opaque RGB, transparency composited on white. */
    static BufferedImage matToRgbOnWhite(Mat mat) {
        int w = mat.cols();
        int h = mat.rows();
        int channels = mat.channels();
        int n = w * h * channels;
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] dst = ((DataBufferInt) out.getRaster().getDataBuffer()).getData();
        if (mat.depth() == CvType.CV_8U && channels == 3) {
            byte[] b = new byte[n];
            mat.get(0, 0, b);
            for (int p = 0, i = 0; p < dst.length; p++, i += 3) {
                dst[p] = (b[i + 2] & 0xFF) << 16 | (b[i + 1] & 0xFF) << 8 | (b[i] & 0xFF);
            }
            return out;
        }
        int[] samples = new int[n];
        int max;
        if (mat.depth() == CvType.CV_8U) {
            byte[] b = new byte[n];
            mat.get(0, 0, b);
            for (int i = 0; i < n; i++) {
                samples[i] = b[i] & 0xFF;
            }
            max = 255;
        } else if (mat.depth() == CvType.CV_16U) {
            short[] s = new short[n];
            mat.get(0, 0, s);
            for (int i = 0; i < n; i++) {
                samples[i] = s[i] & 0xFFFF;
            }
            max = 65535;
        } else {
            throw new IllegalArgumentException("unsupported sample type " + CvType.typeToString(mat.type()));
        }
        for (int p = 0, i = 0; p < dst.length; p++, i += channels) {
            int r;
            int g;
            int b;
            int a = 255;
            if (channels < 3) {
                r = g = b = to8(samples[i], max);
                if (channels == 2) {
                    a = to8(samples[i + 1], max);
                }
            } else {
                b = to8(samples[i], max);
                g = to8(samples[i + 1], max);
                r = to8(samples[i + 2], max);
                if (channels == 4) {
                    a = to8(samples[i + 3], max);
                }
            }
            dst[p] = overWhite(r, a) << 16 | overWhite(g, a) << 8 | overWhite(b, a);
        }
        return out;
    }

    private static int to8(int sample, int max) {
        return max == 255 ? sample : (sample * 255 + max / 2) / max;
    }

    private static BufferedImage readWithImageIo(byte[] bytes, Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            ImageReader reader = firstReader(in, file);
            List<String> warnings = new ArrayList<>();
            reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
            BufferedImage decoded;
            try {
                reader.setInput(in, true, true);
                decoded = reader.read(0);
            } finally {
                reader.dispose();
            }
            if (!warnings.isEmpty()) {
                throw new IOException(file + ": corrupt image: " + String.join("; ", warnings));
            }
            return decoded;
        }
    }

    /** The raw samples of a JPEG, without any colour conversion (CMYK or YCCK for 4 components). */
    private static Raster readRaster(byte[] bytes, Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            ImageReader reader = firstReader(in, file);
            try {
                reader.setInput(in, true, true);
                return reader.readRaster(0, null);
            } finally {
                reader.dispose();
            }
        }
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
    private static int exifOrientation(byte[] file) {
        try {
            Metadata metadata = ImageMetadataReader.readMetadata(new ByteArrayInputStream(file));
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
     * Resamples an RGB image to {@code width × height} with PIL's Lanczos filter ({@code Image.LANCZOS}, support
     * 3), bit-exactly as PIL 9.4 does it; shrinking stretches the kernel by the scale factor (antialiasing).
     */
    public static BufferedImage resize(BufferedImage src, int width, int height) {
        return Resampler.LANCZOS.window(src, width, height, 0, 0, width, height);
    }

    /**
     * Scales an image, keeping its aspect ratio, to the smallest size that covers {@code width × height}
     * and crops the centre of exactly that size. The scaling is PIL's {@code Image.BICUBIC} (antialiased, as
     * the original bucketing script used it), bit-exactly as PIL 9.4 computes the full resize and the crop.
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
        return Resampler.BICUBIC.window(src, scaledW, scaledH, (scaledW - width) / 2, (scaledH - height) / 2,
                width, height);
    }

    static void checkSize(int width, int height) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
    }

    /** The packed {@code 0xRRGGBB} pixels of an image: its own array for {@code TYPE_INT_RGB}, else a copy. */
    static int[] packedRgb(BufferedImage img) {
        if (img.getType() == BufferedImage.TYPE_INT_RGB && img.getRaster().getDataBuffer() instanceof DataBufferInt d
                && img.getRaster().getParent() == null && d.getNumBanks() == 1) {
            return d.getData();
        }
        int w = img.getWidth();
        int[] out = new int[w * img.getHeight()];
        int[] row = new int[w];
        for (int y = 0; y < img.getHeight(); y++) {
            rgbRow(img, y, row);
            System.arraycopy(row, 0, out, y * w, w);
        }
        return out;
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
        int[] rgb = packedRgb(img);
        AtomicFiles.write(target, out -> PngWriter.write(rgb, img.getWidth(), img.getHeight(), out));
    }

    /** True when the file name has one of the image extensions the preprocessors accept. */
    public static boolean isImageFile(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return Files.isRegularFile(file)
                && (name.endsWith(".jpg") || name.endsWith(".jpeg") || name.endsWith(".png")
                        || name.endsWith(".bmp") || name.endsWith(".webp"));
    }
}
