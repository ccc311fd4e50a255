package sdtrainer.log;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.log.EventFileReader.Event;
import sdtrainer.log.EventFileReader.SummaryValue;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

class TensorBoardWriterTest {

    private static final Clock CLOCK = Clock.fixed(Instant.ofEpochMilli(1_700_000_000_500L), ZoneOffset.UTC);

    @Test
    void fileNameIsWhatTensorBoardGlobsFor(@TempDir Path dir) throws IOException {
        try (TensorBoardWriter tb = new TensorBoardWriter(dir.resolve("logs"), CLOCK)) {
            assertEquals(dir.resolve("logs"), tb.file().getParent());
            assertTrue(tb.file().getFileName().toString().matches("events\\.out\\.tfevents\\.1700000000\\.[A-Za-z0-9._-]+"),
                    tb.file().getFileName().toString());
        }
    }

    @Test
    void writersStartedInTheSameSecondGetTheirOwnFiles(@TempDir Path dir) throws IOException {
        try (TensorBoardWriter a = new TensorBoardWriter(dir, CLOCK); TensorBoardWriter b = new TensorBoardWriter(dir, CLOCK)) {
            assertNotEquals(a.file(), b.file());
            a.addScalar("loss", 1, 1);
            b.addScalar("loss", 2, 1);
            a.flush();
            b.flush();
            assertEquals(1f, EventFileReader.read(a.file()).get(1).values().get(0).simpleValue());
            assertEquals(2f, EventFileReader.read(b.file()).get(1).values().get(0).simpleValue());
        }
    }

    /** The first record, byte by byte: framing and the Event encoding assembled by hand. */
    @Test
    void headerRecordBytes(@TempDir Path dir) throws IOException {
        Path file;
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK)) {
            file = tb.file();
        }
        ByteBuffer data = ByteBuffer.allocate(1 + 8 + 2 + 13).order(ByteOrder.LITTLE_ENDIAN);
        data.put((byte) 0x09).putDouble(1_700_000_000.5);             // field 1, fixed64: wall_time
        data.put((byte) 0x1A).put((byte) 13).put("brain.Event:2".getBytes(StandardCharsets.US_ASCII)); // field 3: file_version
        byte[] expectedData = data.array();

        byte[] bytes = Files.readAllBytes(file);
        assertEquals(8 + 4 + expectedData.length + 4, bytes.length);
        ByteBuffer rec = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(expectedData.length, rec.getLong(0));
        assertEquals(Crc32c.mask(Crc32c.compute(bytes, 0, 8)), rec.getInt(8));
        assertArrayEquals(expectedData, java.util.Arrays.copyOfRange(bytes, 12, 12 + expectedData.length));
        assertEquals(Crc32c.mask(Crc32c.compute(expectedData)), rec.getInt(12 + expectedData.length));
    }

    @Test
    void scalarsReadBack(@TempDir Path dir) throws IOException {
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK)) {
            tb.addScalar("loss", 0.5, 1);
            tb.addScalar("loss", 0.25, 2);
            Map<String, Double> lr = new LinkedHashMap<>();
            lr.put("lr/unet", 1e-4);
            lr.put("lr/text_encoder", 5e-5);
            tb.addScalars(lr, 1L << 40);
            tb.close();

            List<Event> events = EventFileReader.read(tb.file());
            assertEquals(4, events.size());
            Event header = events.get(0);
            assertEquals(TensorBoardWriter.FILE_VERSION, header.fileVersion());
            assertEquals(1_700_000_000.5, header.wallTime());
            assertEquals(0, header.step());
            assertTrue(header.values().isEmpty());

            assertEquals(List.of(1L, 2L, 1L << 40), events.stream().skip(1).map(Event::step).toList());
            for (Event e : events.subList(1, 4)) {
                assertEquals(1_700_000_000.5, e.wallTime());
                assertNull(e.fileVersion());
            }
            assertEquals(new SummaryValue("loss", 0.5f, null, null, null), events.get(1).values().get(0));
            assertEquals(new SummaryValue("loss", 0.25f, null, null, null), events.get(2).values().get(0));
            List<SummaryValue> lrValues = events.get(3).values();
            assertEquals(List.of("lr/unet", "lr/text_encoder"), lrValues.stream().map(SummaryValue::tag).toList());
            assertEquals(1e-4f, lrValues.get(0).simpleValue());
            assertEquals(5e-5f, lrValues.get(1).simpleValue());
        }
    }

    @Test
    void imagesReadBack(@TempDir Path dir) throws IOException {
        BufferedImage rgb = new BufferedImage(5, 3, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 3; y++) for (int x = 0; x < 5; x++) rgb.setRGB(x, y, (x * 50) << 16 | (y * 100) << 8 | 7);
        BufferedImage greyAlpha = new BufferedImage(4, 2, BufferedImage.TYPE_INT_ARGB);
        greyAlpha.setRGB(1, 1, 0x80FFFFFF);
        ByteArrayOutputStream rgba = new ByteArrayOutputStream();
        ImageIO.write(greyAlpha, "png", rgba);
        byte[] rgbaPng = rgba.toByteArray();

        Path file;
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK)) {
            tb.addImage("samples/a red cat, sitting", rgb, 100);
            tb.addImage("samples/1", rgbaPng, 100);
            file = tb.file();
        }
        List<Event> events = EventFileReader.read(file);
        SummaryValue first = events.get(1).values().get(0);
        assertEquals("samples/a red cat, sitting", first.tag());
        assertNull(first.simpleValue());
        assertEquals(3, first.image().height());
        assertEquals(5, first.image().width());
        assertEquals(3, first.image().colorspace());
        BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(first.image().encoded()));
        for (int y = 0; y < 3; y++) for (int x = 0; x < 5; x++) {
            assertEquals(rgb.getRGB(x, y), decoded.getRGB(x, y), "pixel " + x + "," + y);
        }

        SummaryValue second = events.get(2).values().get(0);
        assertEquals(100, events.get(2).step());
        assertArrayEquals(rgbaPng, second.image().encoded());
        assertEquals(2, second.image().height());
        assertEquals(4, second.image().width());
        assertEquals(4, second.image().colorspace());
    }

    @Test
    void rejectsBytesThatAreNotPng(@TempDir Path dir) throws IOException {
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK)) {
            byte[] jpegStart = {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
            assertThrows(IllegalArgumentException.class, () -> tb.addImage("x", jpegStart, 1));
        }
    }

    @Test
    void textReadsBackWithTextPlugin(@TempDir Path dir) throws IOException {
        Path file;
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK)) {
            tb.addText("prompt/0", "a cat in a hat, über-detailed", 7);
            file = tb.file();
        }
        SummaryValue v = EventFileReader.read(file).get(1).values().get(0);
        assertEquals(new SummaryValue("prompt/0", null, null, "a cat in a hat, über-detailed", "text"), v);
    }

    @Test
    void flushMakesEverythingReadableWhileOpen(@TempDir Path dir) throws IOException {
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK)) {
            for (int step = 1; step <= 50; step++) tb.addScalar("loss", step, step);
            tb.flush();
            List<Event> events = EventFileReader.read(tb.file());
            assertEquals(51, events.size());
            assertEquals(50f, events.get(50).values().get(0).simpleValue());
        }
    }

    /** A clock the test moves by hand. */
    private static final class ManualClock extends Clock {
        long millis = 1_700_000_000_000L;
        @Override public long millis() { return millis; }
        @Override public Instant instant() { return Instant.ofEpochMilli(millis); }
        @Override public ZoneOffset getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(java.time.ZoneId zone) { throw new UnsupportedOperationException(); }
    }

    @Test
    void flushesOnItsOwnOnceTheIntervalHasPassed(@TempDir Path dir) throws IOException {
        ManualClock clock = new ManualClock();
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, clock)) {
            tb.addScalar("loss", 1, 1);
            assertEquals(1, EventFileReader.read(tb.file()).size(), "buffered until the interval passes");
            clock.millis += TensorBoardWriter.FLUSH_INTERVAL_MILLIS;
            tb.addScalar("loss", 2, 2);
            assertEquals(3, EventFileReader.read(tb.file()).size());
        }
    }

    @Test
    void closedWriterRefusesWrites(@TempDir Path dir) throws IOException {
        TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK);
        tb.close();
        tb.close();
        assertThrows(IllegalStateException.class, () -> tb.addScalar("loss", 1, 1));
    }

    @Test
    void concurrentWritersProduceWholeRecords(@TempDir Path dir) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        Path file;
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                String tag = "thread" + t;
                done.add(pool.submit(() -> {
                    for (int step = 0; step < 200; step++) tb.addScalar(tag, step, step);
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
            file = tb.file();
        } finally {
            pool.shutdown();
        }
        List<Event> events = EventFileReader.read(file);
        assertEquals(1 + 4 * 200, events.size());
        for (Event e : events.subList(1, events.size())) {
            assertEquals((float) e.step(), e.values().get(0).simpleValue());
        }
    }
}
