package sdtrainer.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntBinaryOperator;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.data.Images;
import sdtrainer.data.SourceSize;
import sdtrainer.data.TestImages;
import sdtrainer.preprocess.Bucketing.Bucket;
import sdtrainer.preprocess.Bucketing.Options;

class BucketingTest {
    private static final int RED = 0xFF0000;
    private static final int BLUE = 0x0000FF;
    private static final Options SMALL = new Options(192, 64, 512, 3.0); // (128, 256), (192, 192), (256, 128)

    @TempDir
    Path dir;

    private static List<Bucket> buckets(int... sides) {
        List<Bucket> list = new ArrayList<>();
        for (int i = 0; i < sides.length; i += 2) {
            list.add(new Bucket(sides[i], sides[i + 1]));
        }
        return list;
    }

    @Test
    void defaultBucketSetIsTheOriginals() {
        // Expected values computed with the original make_buckets() for resolution 768, 512..1024, ratio 2.
        assertEquals(buckets(512, 1024, 576, 1024, 576, 960, 640, 896, 704, 832, 768, 768,
                832, 704, 896, 640, 960, 576, 1024, 576, 1024, 512), Bucketing.buckets(Options.DEFAULTS));
    }

    @Test
    void bucketSetsForOtherParameters() {
        assertEquals(buckets(704, 1408, 768, 1344, 768, 1280, 832, 1216, 896, 1152, 960, 1088, 1024, 1024,
                1088, 960, 1152, 896, 1216, 832, 1280, 768, 1344, 768, 1408, 704),
                Bucketing.buckets(new Options(1024, 512, 2048, 2.0)));
        assertEquals(buckets(576, 832, 576, 768, 640, 704, 700, 700, 704, 640, 768, 576, 832, 576),
                Bucketing.buckets(new Options(700, 320, 960, 1.5)));
        assertEquals(buckets(512, 512), Bucketing.buckets(new Options(512, 256, 1024, 1.0)));
        assertEquals(buckets(128, 512, 128, 448, 128, 384, 192, 320, 256, 256, 320, 192, 384, 128, 448, 128, 512, 128),
                Bucketing.buckets(new Options(256, 128, 512, 4.0)));
        // Widths beyond res² would give height 0, where the original divided by zero.
        assertEquals(buckets(64, 64), Bucketing.buckets(new Options(64, 64, 8192, 2.0)));
    }

    @Test
    void invalidOptionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new Options(0, 512, 1024, 2.0));
        assertThrows(IllegalArgumentException.class, () -> new Options(768, 1024, 512, 2.0));
        assertThrows(IllegalArgumentException.class, () -> new Options(768, 512, 1024, 0.5));
        assertThrows(IllegalArgumentException.class, () -> new Options(768, 512, 1024, Double.NaN));
    }

    @Test
    void bucketKeyIsThePythonTupleText() {
        assertEquals("(1024, 576)", new Bucket(1024, 576).key());
    }

    @Test
    void imagesGoToTheBucketOfNearestAspectRatio() {
        List<Bucket> set = Bucketing.buckets(Options.DEFAULTS);
        assertEquals(new Bucket(768, 768), Bucketing.nearest(set, 1000, 1000));
        assertEquals(new Bucket(512, 1024), Bucketing.nearest(set, 600, 1200));
        assertEquals(new Bucket(1024, 576), Bucketing.nearest(set, 1920, 1080));
        assertEquals(new Bucket(704, 832), Bucketing.nearest(set, 850, 1000));
        assertEquals(new Bucket(512, 1024), Bucketing.nearest(set, 100, 5000));
        assertEquals(new Bucket(1024, 512), Bucketing.nearest(set, 5000, 100));
    }

    private static BufferedImage paint(int w, int h, IntBinaryOperator colourAt) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, colourAt.applyAsInt(x, y));
            }
        }
        return img;
    }

    private static void writeImage(BufferedImage img, String format, Path file) throws IOException {
        assertTrue(ImageIO.write(img, format, file.toFile()));
    }

    private static int rgb(BufferedImage img, int x, int y) {
        return img.getRGB(x, y) & 0xFFFFFF;
    }

    private static void assertNear(int expected, int actual, String what) {
        for (int shift = 0; shift <= 16; shift += 8) {
            assertTrue(Math.abs((expected >> shift & 0xFF) - (actual >> shift & 0xFF)) <= 12,
                    what + ": expected " + Integer.toHexString(expected) + ", got " + Integer.toHexString(actual));
        }
    }

    private static Path pilReference(String name) throws IOException {
        try {
            return Path.of(BucketingTest.class.getResource("/pil-reference/" + name).toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IOException(e);
        }
    }

    private Progress progress(StringWriter log) {
        return new Progress("bucketing", new PrintWriter(log, true), false);
    }

    @Test
    void bucketsCropsAndRecordsEveryImage() throws Exception {
        Path in = Files.createDirectory(dir.resolve("in"));
        Path out = dir.resolve("out");
        // Portrait 100x300: red | blue (rows 75..225) | red. Covering 128x256 scales to 128x384 and keeps rows 50..250.
        writeImage(paint(100, 300, (x, y) -> y >= 75 && y < 225 ? BLUE : RED), "png", in.resolve("portrait.png"));
        writeImage(paint(300, 100, (x, y) -> x >= 75 && x < 225 ? BLUE : RED), "bmp", in.resolve("landscape.bmp"));
        writeImage(TestImages.solid(150, 150, 0x808080), "jpg", in.resolve("square.jpeg"));
        writeImage(paint(1000, 50, (x, y) -> x >= 480 && x < 520 ? RED : BLUE), "png", in.resolve("extreme.png"));
        // Stored 200x100 (left red, right blue) with EXIF "rotate 90° clockwise": shown 100x200, red on top.
        Files.write(in.resolve("rotated.jpg"),
                TestImages.jpegWithOrientation(paint(200, 100, (x, y) -> x < 100 ? RED : BLUE), 6));
        Files.write(in.resolve("clear.png"), TestImages.png(2, 2, TestImages.RGBA, 8, new byte[16], null, null));
        byte[] grey16 = new byte[8];
        Arrays.fill(grey16, (byte) 0x80);
        Files.write(in.resolve("grey16.png"), TestImages.png(2, 2, TestImages.GREY, 16, grey16, null, null));
        byte[] jpeg = Files.readAllBytes(in.resolve("rotated.jpg"));
        Files.write(in.resolve("broken.jpg"), Arrays.copyOf(jpeg, jpeg.length / 2));
        Files.writeString(in.resolve("portrait.txt"), "{'tagger': '1girl'}");
        Files.writeString(in.resolve("square.caption"), "a grey square");
        Files.writeString(in.resolve("notes.md"), "not an image");
        // CMYK JPEGs with and without an Adobe marker (32x16) and a lossy portrait WebP (48x96), made by PIL.
        for (String name : List.of("cmyk_adobe.jpg", "cmyk_plain.jpg", "lossy_portrait.webp")) {
            Files.copy(pilReference(name), in.resolve(name));
        }

        StringWriter log = new StringWriter();
        Bucketing.Result result = Bucketing.run(in, out, SMALL, 3, progress(log));

        assertEquals(10, result.summary().processed(), log.toString());
        assertEquals(0, result.summary().skipped());
        assertEquals(1, result.summary().failed());
        assertTrue(log.toString().contains("broken.jpg"), log.toString());
        assertTrue(log.toString().matches("(?s).*bucketing: 10 processed, 0 skipped, 1 failed in \\d+\\.\\d s \\(\\d+\\.\\d\\d images/s\\).*"), log.toString());

        Map<String, List<String>> expected = new LinkedHashMap<>();
        expected.put("(128, 256)", List.of("lossy_portrait", "portrait", "rotated"));
        expected.put("(192, 192)", List.of("clear", "grey16", "square"));
        expected.put("(256, 128)", List.of("cmyk_adobe", "cmyk_plain", "extreme", "landscape"));
        assertEquals(expected, new ObjectMapper().readValue(out.resolve("buckets.json").toFile(), LinkedHashMap.class));
        assertEquals(List.of("(128, 256)", "(192, 192)", "(256, 128)"),
                result.buckets().keySet().stream().map(Bucket::key).toList());

        for (String cmyk : List.of("cmyk_adobe", "cmyk_plain")) { // PIL's RGB of the file, scaled as any image
            BufferedImage expectedRgb = Images.coverAndCenterCrop(Images.read(pilReference(cmyk + ".jpg.png")), 256, 128);
            BufferedImage bucketed = Images.read(out.resolve(cmyk + ".png"));
            assertEquals(Arrays.toString(expectedRgb.getRGB(0, 0, 256, 128, null, 0, 256)),
                    Arrays.toString(bucketed.getRGB(0, 0, 256, 128, null, 0, 256)), cmyk);
        }

        BufferedImage portrait = Images.read(out.resolve("portrait.png"));
        assertEquals(128, portrait.getWidth());
        assertEquals(256, portrait.getHeight());
        assertNear(RED, rgb(portrait, 64, 12), "portrait top");
        assertNear(BLUE, rgb(portrait, 64, 40), "portrait below the top band");
        assertNear(BLUE, rgb(portrait, 64, 216), "portrait above the bottom band");
        assertNear(RED, rgb(portrait, 64, 244), "portrait bottom");

        BufferedImage landscape = Images.read(out.resolve("landscape.png"));
        assertEquals(256, landscape.getWidth());
        assertEquals(128, landscape.getHeight());
        assertNear(RED, rgb(landscape, 12, 64), "landscape left");
        assertNear(BLUE, rgb(landscape, 128, 64), "landscape middle");
        assertNear(RED, rgb(landscape, 244, 64), "landscape right");

        BufferedImage extreme = Images.read(out.resolve("extreme.png"));
        assertNear(RED, rgb(extreme, 128, 64), "extreme keeps its centre");
        assertNear(BLUE, rgb(extreme, 20, 64), "extreme crops its sides");

        BufferedImage rotated = Images.read(out.resolve("rotated.png"));
        assertEquals(128, rotated.getWidth());
        assertNear(RED, rgb(rotated, 64, 40), "rotated top");
        assertNear(BLUE, rgb(rotated, 64, 216), "rotated bottom");

        assertEquals(0xFFFFFF, rgb(Images.read(out.resolve("clear.png")), 96, 96));
        assertEquals(0x808080, rgb(Images.read(out.resolve("grey16.png")), 96, 96));
        assertNear(0x808080, rgb(Images.read(out.resolve("square.png")), 96, 96), "square");

        byte[] header = Files.readAllBytes(out.resolve("square.png"));
        assertEquals(8, header[24], "bit depth");
        assertEquals(2, header[25], "colour type RGB");

        assertEquals("{'tagger': '1girl'}", Files.readString(out.resolve("portrait.txt")));
        assertEquals("a grey square", Files.readString(out.resolve("square.caption")));
        assertTrue(Files.notExists(out.resolve("broken.png")));

        // sizes.json: the decoded source size (EXIF applied) and kohya's crop of the image fitted into its bucket
        Map<String, SourceSize> sizes = SourceSize.read(out.resolve(SourceSize.FILE));
        assertEquals(10, sizes.size());
        assertEquals(new SourceSize(300, 100, 0, 21), sizes.get("portrait"), "128x256 fits 85.3 wide: left (128 - 85.3) // 2");
        assertEquals(new SourceSize(50, 1000, 57, 0), sizes.get("extreme"), "256x128 fits 12.8 high: top (128 - 12.8) // 2");
        assertEquals(new SourceSize(200, 100, 0, 0), sizes.get("rotated"), "same aspect ratio: no crop; shown size");
        assertEquals(new SourceSize(150, 150, 0, 0), sizes.get("square"));
        assertEquals("{\"original_size\":[300,100],\"crop\":[0,21]}",
                new ObjectMapper().readTree(out.resolve("sizes.json").toFile()).get("portrait").toString());
    }

    @Test
    void aSecondRunResumesAndRemakesOutputsOfOtherSizes() throws Exception {
        Path in = Files.createDirectory(dir.resolve("in"));
        Path out = dir.resolve("out");
        writeImage(TestImages.solid(300, 100, RED), "png", in.resolve("a.png"));
        writeImage(TestImages.solid(100, 100, BLUE), "png", in.resolve("b.png"));
        Bucketing.run(in, out, SMALL, 2, progress(new StringWriter()));
        byte[] a = Files.readAllBytes(out.resolve("a.png"));
        Images.writePng(TestImages.solid(10, 10, 0), out.resolve("b.png")); // not a bucket size: remade
        Files.delete(out.resolve(SourceSize.FILE)); // as from a run before sizes.json: kept outputs get theirs too

        Bucketing.Result again = Bucketing.run(in, out, SMALL, 2, progress(new StringWriter()));

        assertEquals(1, again.summary().skipped());
        assertEquals(1, again.summary().processed());
        assertEquals(0, again.summary().failed());
        assertTrue(Arrays.equals(a, Files.readAllBytes(out.resolve("a.png"))));
        assertEquals(new Images.Size(192, 192), Images.readSize(out.resolve("b.png")));
        assertEquals(Map.of("(256, 128)", List.of("a"), "(192, 192)", List.of("b")),
                new ObjectMapper().readValue(out.resolve("buckets.json").toFile(), Map.class));
        assertEquals(Map.of("a", new SourceSize(100, 300, 21, 0), "b", new SourceSize(100, 100, 0, 0)),
                SourceSize.read(out.resolve(SourceSize.FILE)));
    }

    @Test
    void aMalformedSizesFileIsNamed() throws Exception {
        Path file = dir.resolve("sizes.json");
        Files.writeString(file, "{\"a\": {\"original_size\": [10], \"crop\": [0, 0]}}");
        IOException e = assertThrows(IOException.class, () -> SourceSize.read(file));
        assertTrue(e.getMessage().startsWith(file + ": a needs original_size [h, w]"), e.getMessage());
        assertEquals(Map.of(), SourceSize.read(dir.resolve("absent.json")), "no file: no sizes");
    }

    @Test
    void imagesSharingAStemAreReportedNotOverwritten() throws Exception {
        Path in = Files.createDirectory(dir.resolve("in"));
        writeImage(TestImages.solid(64, 64, RED), "png", in.resolve("same.png"));
        writeImage(TestImages.solid(64, 64, BLUE), "bmp", in.resolve("same.bmp"));
        StringWriter log = new StringWriter();
        Bucketing.Result result = Bucketing.run(in, dir.resolve("out"), SMALL, 2, progress(log));
        assertEquals(1, result.summary().processed());
        assertEquals(1, result.summary().failed());
        assertTrue(log.toString().contains("same.png") && log.toString().contains("same.bmp"), log.toString());
        assertNear(BLUE, rgb(Images.read(dir.resolve("out").resolve("same.png")), 5, 5), "first in name order wins");
    }
}
