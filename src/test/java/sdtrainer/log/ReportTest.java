package sdtrainer.log;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.MatchResult;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReportTest {

    private static final Pattern DATA_URI = Pattern.compile("src=\"data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)\"");
    private static final Pattern POLYLINE = Pattern.compile("<polyline [^>]*stroke=\"(#[0-9a-f]{6})\"[^>]*points=\"([^\"]*)\"");

    /** Writes {@code steps} rows like the trainer's, with two lr groups. */
    static Path metrics(Path dir, int steps) throws IOException {
        Path file = dir.resolve(MetricsLog.FILE_NAME);
        Random random = new Random(1);
        try (MetricsLog log = new MetricsLog(file)) {
            double ema = Double.NaN;
            for (int step = 1; step <= steps; step++) {
                double loss = 0.05 + 0.1 * Math.exp(-step / (steps / 4.0)) + 0.03 * random.nextDouble();
                ema = Double.isNaN(ema) ? loss : 0.9 * ema + 0.1 * loss;
                double lr = 1e-4 * Math.min(1, step / (0.05 * steps)) * 0.5 * (1 + Math.cos(Math.PI * step / steps));
                Map<String, Object> lrs = new LinkedHashMap<>();
                lrs.put("text_encoder", lr / 2);
                lrs.put("unet", lr);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("step", step);
                row.put("epoch", 1 + step * 10 / (steps + 1));
                row.put("loss", loss);
                row.put("loss_ema", ema);
                row.put("lr", lrs);
                row.put("samples_per_second", 3 + random.nextDouble());
                log.append(row);
            }
        }
        return file;
    }

    static Path png(Path file, int size, int rgb) throws IOException {
        BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) img.setRGB(x, y, (x / 16 + y / 16) % 2 == 0 ? rgb : 0x202020);
        ImageIO.write(img, "png", file.toFile());
        return file;
    }

    private static String html(Path output) throws IOException {
        return Files.readString(output.resolve(Report.FILE_NAME), StandardCharsets.UTF_8);
    }

    private static List<MatchResult> all(Pattern pattern, String text) {
        return pattern.matcher(text).results().toList();
    }

    @Test
    void drawsCurvesEmbedsImagesAndConfig(@TempDir Path dir) throws IOException {
        Path metrics = metrics(dir, 300);
        Path image = png(dir.resolve("image_log_epoch_005_0.png"), 64, 0x00a000);
        Report.SavePoint save = new Report.SavePoint(5, 150, List.of(image), List.of("a cat"));
        Path written = Report.write(dir, metrics, List.of(save), "model: /m/sd15\nlr: 1e-4\n");

        assertEquals(dir.resolve(Report.FILE_NAME), written);
        String html = html(dir);
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        List<MatchResult> lines = all(POLYLINE, html);
        List<String> colours = lines.stream().map(m -> m.group(1)).toList();
        assertTrue(colours.containsAll(List.of(Report.LOSS_COLOUR, Report.LOSS_EMA_COLOUR, Report.THROUGHPUT_COLOUR)), colours.toString());
        // loss, EMA, two lr groups, throughput; each with every one of the 300 steps
        assertEquals(5, lines.size());
        lines.forEach(m -> assertEquals(300, m.group(2).split(" ").length));
        assertTrue(html.contains(">text_encoder<") && html.contains(">unet<"), "lr legend names the groups");

        List<MatchResult> images = all(DATA_URI, html);
        assertEquals(1, images.size());
        assertEquals("image/png", images.get(0).group(1));
        assertArrayEquals(Files.readAllBytes(image), Base64.getDecoder().decode(images.get(0).group(2)), "small images embedded as they are");
        assertTrue(html.contains("<h3>a cat</h3>"), "one prompt: it heads its row");
        assertTrue(html.contains("<figcaption>epoch 5 · step 150</figcaption>"));
        assertTrue(html.contains("<pre>model: /m/sd15\nlr: 1e-4\n</pre>"));
        try (Stream<Path> files = Files.list(dir)) {
            assertFalse(files.anyMatch(f -> f.getFileName().toString().endsWith(".tmp")), "no temporary file left");
        }
    }

    @Test
    void escapesPromptsAndConfig(@TempDir Path dir) throws IOException {
        Path image = png(dir.resolve("a.png"), 8, 0xff0000);
        String prompt = "<script>alert('x')</script> \"cats\" & dogs";
        Report.write(dir, dir.resolve("none.jsonl"), List.of(new Report.SavePoint(1, 1, List.of(image), List.of(prompt))),
                "prompt: </pre><b>bold</b>\n");
        String html = html(dir);
        assertFalse(html.contains("<script>"));
        assertFalse(html.contains("<b>bold"));
        assertTrue(html.contains("<h3>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;cats&quot; &amp; dogs</h3>"));
        assertTrue(html.contains("alt=\"&lt;script&gt;alert(&#39;x&#39;)"));
        assertTrue(html.contains("<pre>prompt: &lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;\n</pre>"));
    }

    @Test
    void downsamplesLongRuns(@TempDir Path dir) throws IOException {
        Report.write(dir, metrics(dir, 9000), List.of(), "");
        String html = html(dir);
        for (MatchResult m : all(POLYLINE, html)) {
            assertEquals(SvgChart.MAX_POINTS, m.group(2).split(" ").length, m.group(1));
        }
        assertTrue(html.contains("9000 (last step 9000, epoch 10)"), "summary counts every row");
        assertTrue(Files.size(dir.resolve(Report.FILE_NAME)) < 500_000, "a long run's page stays light");
    }

    @Test
    void reReadsMetricsAndSavesOnEachWrite(@TempDir Path dir) throws IOException {
        Path metrics = metrics(dir, 10);
        Path first = png(dir.resolve("e1.png"), 8, 0x0000ff);
        Report.write(dir, metrics, List.of(new Report.SavePoint(1, 10, List.of(first), List.of("one"))), "a: 1\n");
        assertTrue(html(dir).contains("10 (last step 10"));

        Files.delete(metrics);
        metrics(dir, 20);
        Path second = png(dir.resolve("e2.png"), 8, 0x00ff00);
        Report.write(dir, metrics, List.of(new Report.SavePoint(1, 10, List.of(first), List.of("one")),
                new Report.SavePoint(2, 20, List.of(second), List.of("two"))), "a: 1\n");
        String html = html(dir);
        assertTrue(html.contains("20 (last step 20"));
        assertEquals(2, all(DATA_URI, html).size());
        assertTrue(html.indexOf("epoch 1 · step 10") < html.indexOf("epoch 2 · step 20"), "saves in order");
    }

    @Test
    void samplesAreGroupedByPromptAcrossSaves(@TempDir Path dir) throws IOException {
        Path a1 = png(dir.resolve("a1.png"), 8, 0xff0000), b1 = png(dir.resolve("b1.png"), 8, 0x00ff00);
        Path a2 = png(dir.resolve("a2.png"), 8, 0x0000ff), b2 = png(dir.resolve("b2.png"), 8, 0xffff00);
        Report.write(dir, dir.resolve("none.jsonl"), List.of(
                new Report.SavePoint(1, 10, List.of(a1, b1), List.of("a red star", "caption one")),
                new Report.SavePoint(2, 20, List.of(a2, b2), List.of("a red star", "caption two"))), "");
        String html = html(dir);
        int star = html.indexOf("<h3>a red star</h3>"), changing = html.indexOf("<h3>sample 1 (its prompt changes between saves)</h3>");
        assertTrue(star >= 0 && changing > star, html);
        List<MatchResult> images = all(DATA_URI, html);
        assertEquals(4, images.size());
        // row of prompt 0: both saves' first images, then row 1: both saves' second images
        List<byte[]> order = List.of(Files.readAllBytes(a1), Files.readAllBytes(a2), Files.readAllBytes(b1), Files.readAllBytes(b2));
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(order.get(i), Base64.getDecoder().decode(images.get(i).group(2)), "image " + i);
        }
        String row0 = html.substring(star, changing);
        assertTrue(row0.indexOf("epoch 1 · step 10") < row0.indexOf("epoch 2 · step 20"), "saves in order within a row");
        assertTrue(html.substring(changing).contains("<figcaption>epoch 2 · step 20<br>caption two</figcaption>"),
                "a changing prompt is shown under each image");
    }

    @Test
    void validationLossHasItsOwnCurve(@TempDir Path dir) throws IOException {
        Path metrics = metrics(dir, 10);
        Files.writeString(metrics, "{\"step\":5,\"epoch\":1,\"val_loss\":0.25,\"val_samples\":2}\n"
                + "{\"step\":10,\"epoch\":2,\"val_loss\":0.125,\"val_samples\":2}\n", java.nio.file.StandardOpenOption.APPEND);
        Report.Metrics m = Report.Metrics.read(metrics);
        assertEquals(10, m.steps().length, "validation rows are not training steps");
        assertArrayEquals(new double[] {5, 10}, m.valSteps());
        assertArrayEquals(new double[] {0.25, 0.125}, m.valLoss());
        Report.write(dir, metrics, List.of(), "");
        String html = html(dir);
        MatchResult val = all(POLYLINE, html).stream().filter(l -> l.group(1).equals(Report.VAL_LOSS_COLOUR)).findFirst()
                .orElseThrow();
        assertEquals(2, val.group(2).split(" ").length);
        assertTrue(html.contains("<th>last validation loss</th><td>0.1250 (step 10)</td>"), html);

        Report.write(dir, metrics(Files.createDirectories(dir.resolve("plain")), 10), List.of(), "");
        assertFalse(html(dir).contains("Validation loss"), "no validation, no chart");
    }

    @Test
    void toleratesACutLineNonFiniteValuesAndMissingFiles(@TempDir Path dir) throws IOException {
        Path metrics = dir.resolve(MetricsLog.FILE_NAME);
        Files.writeString(metrics, """
                {"step":1,"epoch":1,"loss":0.5,"loss_ema":0.5,"lr":{"unet":1e-4},"samples_per_second":2.0}
                {"step":2,"epoch":1,"loss":"NaN","loss_ema":"NaN","lr":{"unet":1e-4},"samples_per_second":2.0}
                {"step":3,"epoch":1,"loss":0.3,"loss_ema":0.4,"lr":{"unet":1e-4},"samples_per_second":2.0}
                {"step":4,"epoch":1,"loss":0.2,"lo""");
        Report.Metrics m = Report.Metrics.read(metrics);
        assertArrayEquals(new double[] {1, 2, 3}, m.steps());
        assertTrue(Double.isNaN(m.loss()[1]));
        assertEquals(1, m.skippedLines());

        Report.write(dir, metrics, List.of(new Report.SavePoint(1, 3, List.of(dir.resolve("gone.png")), List.of("lost"))), "");
        String html = html(dir);
        List<MatchResult> lines = all(POLYLINE, html);
        assertEquals(2, lines.stream().filter(l -> l.group(1).equals(Report.LOSS_COLOUR)).findFirst().orElseThrow()
                .group(2).split(" ").length, "the NaN step is a gap");
        assertTrue(html.contains("missing: " + dir.resolve("gone.png")));
        assertTrue(html.contains("<th>unreadable metrics lines</th><td>1</td>"));

        Report.write(dir, dir.resolve("absent.jsonl"), List.of(), "");
        assertTrue(html(dir).contains("no data yet"));
        assertTrue(html(dir).contains("No save yet."));
    }

    @Test
    void largeImagesBecomeJpegThumbnails(@TempDir Path dir) throws IOException {
        // Noise does not compress: well over the embed-as-is limit as PNG.
        BufferedImage noise = new BufferedImage(1024, 512, BufferedImage.TYPE_INT_RGB);
        Random random = new Random(3);
        for (int y = 0; y < 512; y++) for (int x = 0; x < 1024; x++) noise.setRGB(x, y, random.nextInt(1 << 24));
        Path big = dir.resolve("big.png");
        ImageIO.write(noise, "png", big.toFile());
        assertTrue(Files.size(big) > Report.EMBED_AS_IS_BYTES);

        String uri = Report.dataUri(big);
        assertNotNull(uri);
        assertTrue(uri.startsWith("data:image/jpeg;base64,"));
        BufferedImage thumb = ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(uri.substring(uri.indexOf(',') + 1))));
        assertEquals(Report.THUMBNAIL_MAX_SIDE, thumb.getWidth());
        assertEquals(Report.THUMBNAIL_MAX_SIDE / 2, thumb.getHeight());
    }

    @Test
    void savePointNeedsOnePromptPerImage() {
        assertThrows(IllegalArgumentException.class,
                () -> new Report.SavePoint(1, 1, List.of(Path.of("a.png"), Path.of("b.png")), List.of("only one")));
    }

    @Test
    void escapeCoversHtmlSpecials() {
        assertEquals("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39; é", Report.escape("a <b> & \"c\" 'd' é"));
    }

    @Test
    void summaryNumbers() {
        assertEquals("0", Report.number(0));
        assertEquals("0.06802", Report.number(0.068019));
        assertEquals("1.000e-04", Report.number(1e-4));
        assertEquals("3.507", Report.number(3.50712));
        assertEquals("NaN", Report.number(Double.NaN));
    }

    @Test
    void medianIgnoresNonFinite() {
        assertEquals(2.5, Report.median(new double[] {4, Double.NaN, 1, 2, 3, Double.POSITIVE_INFINITY}));
        assertTrue(Double.isNaN(Report.median(new double[0])));
    }
}
