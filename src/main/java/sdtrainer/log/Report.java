package sdtrainer.log;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.io.AtomicFiles;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.BufferedWriter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code <output>/report.html}: one self-contained page per run, rewritten at each save. It shows the loss,
 * loss-EMA, validation-loss, learning-rate and throughput curves from {@code metrics.jsonl} as inline SVG, the
 * sample images of every save (embedded as data URIs) grouped by prompt, one row per sample across the saves,
 * and the resolved config. Opening it needs no server
 * and no network, so it can be copied off a GPU box as one file.
 */
public final class Report {
    private static final Logger LOG = LoggerFactory.getLogger(Report.class);

    public static final String FILE_NAME = "report.html";

    /** Larger sample images are re-encoded as JPEG so that dozens of saves keep the page a few MB. */
    static final int EMBED_AS_IS_BYTES = 256 * 1024;
    static final int THUMBNAIL_MAX_SIDE = 768;

    static final String LOSS_COLOUR = "#9ecae1", LOSS_EMA_COLOUR = "#d62728", THROUGHPUT_COLOUR = "#2ca02c",
            VAL_LOSS_COLOUR = "#9467bd";
    private static final String[] LR_COLOURS = {"#1f77b4", "#ff7f0e", "#9467bd", "#8c564b"};

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The sample images written at one save and the prompt of each. */
    public record SavePoint(int epoch, long step, List<Path> images, List<String> prompts) {
        public SavePoint {
            images = List.copyOf(images);
            prompts = List.copyOf(prompts);
            if (images.size() != prompts.size()) {
                throw new IllegalArgumentException(images.size() + " images but " + prompts.size() + " prompts");
            }
        }
    }

    private Report() {}

    /**
     * Writes {@code outputDir/report.html} atomically and returns its path. A missing metrics file gives empty
     * charts; a missing image is shown as such. Neither stops the report.
     */
    public static Path write(Path outputDir, Path metricsJsonl, List<SavePoint> saves, String resolvedConfigYaml)
            throws IOException {
        Metrics metrics = Metrics.read(metricsJsonl);
        Path target = outputDir.resolve(FILE_NAME);
        Files.createDirectories(outputDir);
        AtomicFiles.write(target, stream -> {
            Writer out = new BufferedWriter(new OutputStreamWriter(stream, StandardCharsets.UTF_8));
            page(out, outputDir, metrics, saves, resolvedConfigYaml);
            out.flush();
        });
        return target;
    }

    private static void page(Writer out, Path outputDir, Metrics m, List<SavePoint> saves, String config) throws IOException {
        String name = outputDir.toAbsolutePath().normalize().getFileName() == null ? outputDir.toString()
                : outputDir.toAbsolutePath().normalize().getFileName().toString();
        out.write("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        out.write("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.write("<title>" + escape(name) + " · sd-trainer report</title>\n<style>" + CSS + "</style></head><body>\n");
        out.write("<h1>" + escape(name) + "</h1>\n<p class=\"meta\">sd-trainer report · " + escape(outputDir.toAbsolutePath().toString())
                + " · written " + Instant.now().truncatedTo(ChronoUnit.SECONDS) + "</p>\n");
        summary(out, m, saves);

        out.write("<h2>Loss</h2>\n");
        out.write(SvgChart.render("loss per step and its EMA", "step", List.of(
                new SvgChart.Series("loss", LOSS_COLOUR, 1, m.steps(), m.loss()),
                new SvgChart.Series("loss EMA", LOSS_EMA_COLOUR, 2, m.steps(), m.lossEma()))));
        if (m.valSteps().length > 0) {
            out.write("\n<h2>Validation loss</h2>\n");
            out.write(SvgChart.render("loss on the held-out samples (fixed noise and timesteps)", "step", List.of(
                    new SvgChart.Series("validation loss", VAL_LOSS_COLOUR, 2, m.valSteps(), m.valLoss()))));
        }
        out.write("\n<h2>Learning rate</h2>\n");
        List<SvgChart.Series> lrs = new ArrayList<>();
        int c = 0;
        for (Map.Entry<String, double[]> e : m.lr().entrySet()) {
            lrs.add(new SvgChart.Series(e.getKey(), LR_COLOURS[c++ % LR_COLOURS.length], 2, m.steps(), e.getValue()));
        }
        out.write(SvgChart.render("learning rate per parameter group", "step", lrs));
        out.write("\n<h2>Throughput</h2>\n");
        out.write(SvgChart.render("samples per second", "step", List.of(
                new SvgChart.Series("samples/s", THROUGHPUT_COLOUR, 1.5, m.steps(), m.samplesPerSecond()))));

        out.write("\n<h2>Samples</h2>\n");
        if (saves.isEmpty()) out.write("<p>No save yet.</p>\n");
        // one row per sample index across the saves, so each prompt is seen changing over training
        int rows = saves.stream().mapToInt(p -> p.images().size()).max().orElse(0);
        for (int i = 0; i < rows; i++) {
            final int index = i;
            List<SavePoint> with = saves.stream().filter(p -> p.images().size() > index).toList();
            boolean samePrompt = with.stream().map(p -> p.prompts().get(index)).distinct().count() == 1;
            out.write("<h3>" + (samePrompt ? escape(with.get(0).prompts().get(i))
                    : "sample " + i + " (its prompt changes between saves)") + "</h3>\n<div class=\"samples\">\n");
            for (SavePoint save : with) {
                String prompt = escape(save.prompts().get(i));
                String when = String.format(Locale.ROOT, "epoch %d · step %d", save.epoch(), save.step());
                out.write("<figure>");
                String uri = dataUri(save.images().get(i));
                if (uri == null) {
                    out.write("<div class=\"missing\">missing: " + escape(save.images().get(i).toString()) + "</div>");
                } else {
                    out.write("<img alt=\"" + prompt + "\" src=\"");
                    out.write(uri);
                    out.write("\">");
                }
                out.write("<figcaption>" + when + (samePrompt ? "" : "<br>" + prompt) + "</figcaption></figure>\n");
            }
            out.write("</div>\n");
        }
        out.write("<h2>Config</h2>\n<pre>" + escape(config) + "</pre>\n</body></html>\n");
    }

    private static void summary(Writer out, Metrics m, List<SavePoint> saves) throws IOException {
        Map<String, String> rows = new LinkedHashMap<>();
        int n = m.steps().length;
        rows.put("steps logged", n == 0 ? "none yet" : String.format(Locale.ROOT, "%d (last step %d, epoch %d)",
                n, (long) m.steps()[n - 1], m.lastEpoch()));
        if (n > 0) {
            rows.put("last loss EMA", number(m.lossEma()[n - 1]));
            int v = m.valSteps().length;
            if (v > 0) rows.put("last validation loss", number(m.valLoss()[v - 1]) + " (step " + (long) m.valSteps()[v - 1] + ")");
            m.lr().forEach((group, values) -> rows.put("last lr (" + group + ")", number(values[n - 1])));
            rows.put("samples/s", "median " + number(median(m.samplesPerSecond())) + ", last " + number(m.samplesPerSecond()[n - 1]));
        }
        if (m.skippedLines() > 0) rows.put("unreadable metrics lines", Integer.toString(m.skippedLines()));
        rows.put("saves", Integer.toString(saves.size()));
        out.write("<table class=\"summary\">\n");
        for (Map.Entry<String, String> e : rows.entrySet()) {
            out.write("<tr><th>" + escape(e.getKey()) + "</th><td>" + escape(e.getValue()) + "</td></tr>\n");
        }
        out.write("</table>\n");
    }

    /** Four significant digits; scientific below 0.001 so learning rates stay readable. */
    static String number(double v) {
        if (v == 0) return "0";
        return String.format(Locale.ROOT, Math.abs(v) < 1e-3 ? "%.3e" : "%.4g", v);
    }

    static double median(double[] values) {
        double[] finite = Arrays.stream(values).filter(Double::isFinite).sorted().toArray();
        if (finite.length == 0) return Double.NaN;
        int mid = finite.length / 2;
        return finite.length % 2 == 1 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
    }

    /** The image as a data URI: its own bytes when small, otherwise a JPEG thumbnail; null when unreadable. */
    static String dataUri(Path image) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(image);
        } catch (NoSuchFileException e) {
            return null;
        }
        String name = image.getFileName().toString().toLowerCase(Locale.ROOT);
        String mime = name.endsWith(".png") ? "image/png" : name.endsWith(".jpg") || name.endsWith(".jpeg") ? "image/jpeg"
                : name.endsWith(".webp") ? "image/webp" : null;
        if (mime == null || bytes.length > EMBED_AS_IS_BYTES) {
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(bytes));
            if (img == null) {
                LOG.warn("report: {} is not an image this JVM can read; left out", image);
                return null;
            }
            bytes = jpeg(img);
            mime = "image/jpeg";
        }
        return "data:" + mime + ";base64," + Base64.getEncoder().encodeToString(bytes);
    }

    private static byte[] jpeg(BufferedImage src) throws IOException {
        double scale = Math.min(1, (double) THUMBNAIL_MAX_SIDE / Math.max(src.getWidth(), src.getHeight()));
        int w = Math.max(1, (int) Math.round(src.getWidth() * scale)), h = Math.max(1, (int) Math.round(src.getHeight() * scale));
        // JPEG has no alpha: draw onto opaque RGB (white behind transparent pixels).
        BufferedImage rgb = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = rgb.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.drawImage(src, 0, 0, w, h, null);
        g.dispose();
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try (ImageOutputStream ios = new javax.imageio.stream.MemoryCacheImageOutputStream(buffer)) {
            writer.setOutput(ios);
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(0.9f);
            writer.write(null, new IIOImage(rgb, null, null), param);
        } finally {
            writer.dispose();
        }
        return buffer.toByteArray();
    }

    /** Text for HTML element content and quoted attribute values. */
    static String escape(String text) {
        StringBuilder sb = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            switch (ch) {
                case '&' -> sb.append("&amp;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(ch);
            }
        }
        return sb.toString();
    }

    /** The columns of metrics.jsonl that the report draws, one entry per readable line. */
    record Metrics(double[] steps, double[] loss, double[] lossEma, double[] samplesPerSecond, Map<String, double[]> lr,
                   long lastEpoch, int skippedLines, double[] valSteps, double[] valLoss) {

        /**
         * Reads the rows written by {@link MetricsLog}. A line that is not a JSON object (a crash can cut the last
         * one short) is counted and skipped; numbers written as strings ("NaN", "Infinity") become doubles.
         */
        static Metrics read(Path file) throws IOException {
            List<String> lines;
            try {
                lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                lines = List.of();
            }
            List<JsonNode> rows = new ArrayList<>();
            List<double[]> validation = new ArrayList<>();
            int skipped = 0;
            for (String line : lines) {
                if (line.isBlank()) continue;
                try {
                    JsonNode row = JSON.readTree(line);
                    if (row.isObject() && row.has("step") && row.has("val_loss")) {
                        validation.add(new double[] {number(row.get("step")), number(row.get("val_loss"))});
                    } else if (row.isObject() && row.has("step")) {
                        rows.add(row);
                    } else {
                        skipped++;
                    }
                } catch (JsonProcessingException e) {
                    skipped++;
                }
            }
            if (skipped > 0) LOG.warn("report: skipped {} unreadable line(s) of {}", skipped, file);
            int n = rows.size();
            double[] steps = new double[n], loss = new double[n], lossEma = new double[n], sps = new double[n];
            Map<String, double[]> lr = new LinkedHashMap<>();
            long lastEpoch = 0;
            for (int i = 0; i < n; i++) {
                JsonNode row = rows.get(i);
                steps[i] = number(row.get("step"));
                loss[i] = number(row.get("loss"));
                lossEma[i] = number(row.get("loss_ema"));
                sps[i] = number(row.get("samples_per_second"));
                lastEpoch = row.path("epoch").asLong(lastEpoch);
                for (Iterator<Map.Entry<String, JsonNode>> it = row.path("lr").fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    // A group first seen later (or missing from a row) has gaps, not zeros.
                    double[] column = lr.computeIfAbsent(e.getKey(), k -> {
                        double[] fresh = new double[n];
                        Arrays.fill(fresh, Double.NaN);
                        return fresh;
                    });
                    column[i] = number(e.getValue());
                }
            }
            return new Metrics(steps, loss, lossEma, sps, lr, lastEpoch, skipped,
                    validation.stream().mapToDouble(v -> v[0]).toArray(), validation.stream().mapToDouble(v -> v[1]).toArray());
        }

        private static double number(JsonNode node) {
            if (node == null || node.isNull()) return Double.NaN;
            if (node.isNumber()) return node.asDouble();
            try {
                return Double.parseDouble(node.asText());
            } catch (NumberFormatException e) {
                return Double.NaN;
            }
        }
    }

    private static final String CSS = """
            body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1000px;\
            padding:0 16px;color:#222;background:#fff}
            h1{margin:0 0 4px;font-size:24px}h2{margin:28px 0 8px;font-size:18px;border-bottom:1px solid #ddd}\
            h3{margin:16px 0 8px;font-size:15px;color:#444}
            .meta{color:#666;font-size:13px;margin:0 0 12px;word-break:break-all}
            table.summary{border-collapse:collapse;font-size:14px}table.summary th{text-align:left;font-weight:600;\
            padding:2px 16px 2px 0;color:#444}table.summary td{padding:2px 0;font-variant-numeric:tabular-nums}
            svg.chart{width:100%;height:auto;display:block;background:#fcfcfc;border:1px solid #eee}
            svg.chart text{font-size:12px;fill:#555}svg.chart .title{font-size:13px;fill:#222}
            svg.chart .ytick{text-anchor:end}svg.chart .xtick{text-anchor:middle}svg.chart .xlabel{text-anchor:end}
            svg.chart .empty{text-anchor:middle;font-size:16px;fill:#999}svg.chart .grid line{stroke:#e4e4e4}
            .samples{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px}
            figure{margin:0}figure img{width:100%;height:auto;display:block;border-radius:4px}
            figcaption{font-size:12px;color:#444;margin-top:4px;overflow-wrap:anywhere}
            .missing{aspect-ratio:1;display:flex;align-items:center;justify-content:center;background:#f2f2f2;\
            color:#888;font-size:12px;padding:8px;overflow-wrap:anywhere}
            pre{background:#f6f8fa;padding:12px;font-size:13px;overflow-x:auto;white-space:pre-wrap}
            """;
}
