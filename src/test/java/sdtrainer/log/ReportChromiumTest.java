package sdtrainer.log;

import org.junit.jupiter.api.Test;
import sdtrainer.ExternalTool;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Renders a report in headless Chromium and checks the screenshot shows it: text, curves and sample images.
 * Skipped where Chromium is not installed (Debian: {@code apt-get install chromium}), failed under CI=true.
 * Set {@code -Dreport.screenshot=FILE} to keep the PNG for a look.
 */
class ReportChromiumTest {

    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final int SAMPLE_RGB = 0x00b400;

    @Test
    void rendersCurvesAndImages(@TempDir Path dir) throws IOException, InterruptedException {
        ExternalTool.require(Files.isExecutable(CHROMIUM), CHROMIUM + " is not installed (Debian: apt-get install chromium)");
        Path output = Files.createDirectories(dir.resolve("my-lora"));
        Path metrics = ReportTest.metrics(output, 4000);
        Path images = Files.createDirectories(dir.resolve("images"));
        List<Report.SavePoint> saves = List.of(
                new Report.SavePoint(5, 2000, List.of(ReportTest.png(images.resolve("image_log_epoch_005_0.png"), 256, SAMPLE_RGB),
                        ReportTest.png(images.resolve("image_log_epoch_005_1.png"), 256, 0x3060ff)), List.of("a cat <on> a mat", "a dog")),
                new Report.SavePoint(10, 4000, List.of(ReportTest.png(images.resolve("image_log_epoch_010_0.png"), 256, SAMPLE_RGB)),
                        List.of("a cat <on> a mat")));
        Path report = Report.write(output, metrics, saves, "model: /models/sd15\nlora: 4\n");

        Path png = dir.resolve("report.png");
        Process chromium = new ProcessBuilder(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars",
                // Without these the screenshot can be taken before every tile is drawn (white patches).
                "--run-all-compositor-stages-before-draw", "--virtual-time-budget=3000",
                "--user-data-dir=" + dir.resolve("profile"),
                "--screenshot=" + png, "--window-size=1200,1600", report.toUri().toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("chromium.log").toFile()).start();
        boolean finished = chromium.waitFor(120, TimeUnit.SECONDS);
        if (!finished) chromium.destroyForcibly();
        assertTrue(finished, "chromium did not finish in 120 s");
        assertEquals(0, chromium.exitValue(), () -> "chromium failed: " + read(dir.resolve("chromium.log")));

        BufferedImage shot = ImageIO.read(png.toFile());
        assertNotNull(shot, "chromium wrote a PNG");
        String keep = System.getProperty("report.screenshot");
        if (keep != null) Files.copy(png, Path.of(keep), StandardCopyOption.REPLACE_EXISTING);
        assertEquals(1200, shot.getWidth());

        Set<Integer> colours = new HashSet<>();
        long nonWhite = 0, ema = 0, sample = 0;
        for (int y = 0; y < shot.getHeight(); y++) {
            for (int x = 0; x < shot.getWidth(); x++) {
                int rgb = shot.getRGB(x, y) & 0xffffff;
                colours.add(rgb);
                if (rgb != 0xffffff) nonWhite++;
                if (near(rgb, Integer.parseInt(Report.LOSS_EMA_COLOUR.substring(1), 16), 24)) ema++;
                if (near(rgb, SAMPLE_RGB, 24)) sample++;
            }
        }
        long pixels = (long) shot.getWidth() * shot.getHeight();
        assertTrue(colours.size() > 200, "a blank or flat page has few colours: " + colours.size());
        assertTrue(nonWhite > pixels / 20, "mostly white page: " + nonWhite + " of " + pixels);
        assertTrue(ema > 500, "loss EMA curve visible: " + ema + " pixels");
        assertTrue(sample > 5000, "sample image visible: " + sample + " pixels");
    }

    private static boolean near(int a, int b, int tolerance) {
        return Math.abs((a >> 16 & 0xff) - (b >> 16 & 0xff)) <= tolerance
                && Math.abs((a >> 8 & 0xff) - (b >> 8 & 0xff)) <= tolerance
                && Math.abs((a & 0xff) - (b & 0xff)) <= tolerance;
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
