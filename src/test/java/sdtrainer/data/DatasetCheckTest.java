package sdtrainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.Npy;
import sdtrainer.io.TensorData;

/** The pre-check of both datasets finds what training would trip over, naming each file. */
class DatasetCheckTest {
    @TempDir
    Path dir;

    private static byte[] jpeg(int w, int h) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Random r = new Random(3);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, r.nextInt(1 << 24));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, "jpg", out));
        return out.toByteArray();
    }

    @Test
    void aTruncatedJpegAndANonUtf8CaptionAreFoundBeforeTraining() throws IOException {
        byte[] whole = jpeg(64, 48);
        Files.write(dir.resolve("good.jpg"), whole);
        Files.writeString(dir.resolve("good.txt"), "a cat");
        Path cut = Files.write(dir.resolve("cut.jpg"), Arrays.copyOf(whole, whole.length * 2 / 3));
        Files.writeString(dir.resolve("cut.txt"), "a dog");
        // the header still reads: only a full decode finds the missing end
        assertEquals(new Images.Size(64, 48), Images.readSize(cut));
        Files.write(dir.resolve("latin1.jpg"), whole);
        Path latin1 = Files.write(dir.resolve("latin1.txt"), new byte[] {'c', 'a', 'f', (byte) 0xE9});
        Files.write(dir.resolve("blank.jpg"), whole);
        Path blank = Files.writeString(dir.resolve("blank.txt"), "  \n");

        SimpleDataset data = new SimpleDataset(dir, 32, 32);
        List<String> problems = data.problems();
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith(cut + ": ")), problems.toString());
        assertTrue(problems.contains(latin1 + ": not UTF-8 text: byte 0xE9 at offset 3; save the caption as UTF-8"),
                problems.toString());
        assertEquals(List.of(blank + ": empty caption; the sample trains without a prompt"), data.warnings());
        assertEquals(2, data.dropBad());
        assertEquals(2, data.size());
        assertEquals("", data.load("blank").caption());
    }

    @Test
    void captionsDropAByteOrderMarkAndStripWhitespace() throws IOException {
        Path f = Files.write(dir.resolve("c.txt"), new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, ' ', 'c', 'a', 't', '\n'});
        assertEquals("cat", Captions.read(f));
    }

    private Path bucketSample(String stem, String captionExtension, byte[] caption) throws IOException {
        float[] latent = new float[4 * 8 * 8];
        Npy.write(dir.resolve(stem + ".npy"), TensorData.ofFloats(new long[] {4, 8, 8}, latent));
        return captionExtension == null ? null : Files.write(dir.resolve(stem + captionExtension), caption);
    }

    @Test
    void bucketModeReadsKohyasTxtWhenThereIsNoCaptionFileAndDecodesEveryCaption() throws IOException {
        bucketSample("a", ".caption", "from caption".getBytes());
        Files.writeString(dir.resolve("a.txt"), "not this one");
        bucketSample("b", ".txt", "from txt".getBytes());
        bucketSample("c", null, null);
        Path bad = bucketSample("d", ".caption", new byte[] {'x', (byte) 0xC3});
        new ObjectMapper().writeValue(dir.resolve("buckets.json").toFile(), Map.of("(16, 16)", List.of("a", "b", "c", "d")));

        AspectDataset data = new AspectDataset(dir, false, 2, 4);
        assertEquals(List.of(dir.resolve("c.caption") + ": missing caption (nor is there a c.txt)",
                bad + ": not UTF-8 text: byte 0xC3 at offset 1; save the caption as UTF-8"), data.problems());
        assertEquals("from caption", data.load("a").caption());
        assertEquals("from txt", data.load("b").caption());
    }
}
