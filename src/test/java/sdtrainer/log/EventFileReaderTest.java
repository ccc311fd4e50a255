package sdtrainer.log;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.log.EventFileReader.Event;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class EventFileReaderTest {

    private static final Clock CLOCK = Clock.fixed(Instant.ofEpochSecond(1_600_000_000L), ZoneOffset.UTC);

    /** Writes a header and two scalar events; returns the file. */
    private static Path threeRecords(Path dir) throws IOException {
        try (TensorBoardWriter tb = new TensorBoardWriter(dir, CLOCK)) {
            tb.addScalar("loss", 0.5, 1);
            tb.addScalar("loss", 0.25, 2);
            return tb.file();
        }
    }

    /** Offset of the record after the one at {@code offset}. */
    private static int next(byte[] bytes, int offset) {
        return offset + 16 + (int) ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(offset);
    }

    @Test
    void flippedDataByteIsReportedWithFileAndOffset(@TempDir Path dir) throws IOException {
        Path file = threeRecords(dir);
        byte[] bytes = Files.readAllBytes(file);
        int second = next(bytes, 0);
        bytes[second + 12 + 3] ^= 0x01;
        Files.write(file, bytes);
        IOException e = assertThrows(IOException.class, () -> EventFileReader.read(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("offset " + second + ":"), e.getMessage());
        assertTrue(e.getMessage().contains("data CRC"), e.getMessage());
    }

    @Test
    void flippedLengthByteIsReported(@TempDir Path dir) throws IOException {
        Path file = threeRecords(dir);
        byte[] bytes = Files.readAllBytes(file);
        int third = next(bytes, next(bytes, 0));
        bytes[third] ^= 0x40;
        Files.write(file, bytes);
        IOException e = assertThrows(IOException.class, () -> EventFileReader.read(file));
        assertTrue(e.getMessage().contains("offset " + third + ": length CRC"), e.getMessage());
    }

    @Test
    void flippedCrcByteIsReported(@TempDir Path dir) throws IOException {
        Path file = threeRecords(dir);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 1] ^= 0x01;
        Files.write(file, bytes);
        assertThrows(IOException.class, () -> EventFileReader.read(file));
    }

    @Test
    void truncatedFileIsReported(@TempDir Path dir) throws IOException {
        Path file = threeRecords(dir);
        byte[] bytes = Files.readAllBytes(file);
        int third = next(bytes, next(bytes, 0));
        for (int cut : new int[] {third + 5, bytes.length - 1}) {
            Files.write(file, Arrays.copyOf(bytes, cut));
            IOException e = assertThrows(IOException.class, () -> EventFileReader.read(file));
            assertTrue(e.getMessage().contains("offset " + third + ":"), e.getMessage());
        }
    }

    @Test
    void validCrcsAroundMalformedProtobufAreReported(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("events.out.tfevents.1.bad");
        byte[] data = {0x0A, 0x05, 'a'}; // field 1 claims 5 bytes, 1 present
        Files.write(file, TensorBoardWriter.frame(data));
        IOException e = assertThrows(IOException.class, () -> EventFileReader.read(file));
        assertTrue(e.getMessage().contains("offset 0: malformed Event protobuf"), e.getMessage());
    }

    /** Fields this reader does not decode (graph_def, node_name, histograms) are skipped. */
    @Test
    void skipsUnknownFields(@TempDir Path dir) throws IOException {
        ProtoWriter value = new ProtoWriter()
                .string(7, "node")                                   // node_name
                .string(1, "loss")
                .message(5, new ProtoWriter().doubleField(1, -1))   // histo
                .floatField(2, 1.5f)
                .varint(99, 12345);
        byte[] event = new ProtoWriter()
                .doubleField(1, 12.0)
                .varint(2, 3)
                .bytes(4, new byte[] {1, 2, 3})                     // graph_def
                .message(5, new ProtoWriter().message(1, value))
                .toByteArray();
        Path file = dir.resolve("events.out.tfevents.1.other");
        Files.write(file, TensorBoardWriter.frame(event));
        List<Event> events = EventFileReader.read(file);
        assertEquals(1, events.size());
        assertEquals(12.0, events.get(0).wallTime());
        assertEquals(3, events.get(0).step());
        assertEquals("loss", events.get(0).values().get(0).tag());
        assertEquals(1.5f, events.get(0).values().get(0).simpleValue());
    }

    @Test
    void emptyFileHasNoEvents(@TempDir Path dir) throws IOException {
        Path file = Files.createFile(dir.resolve("events.out.tfevents.1.empty"));
        assertTrue(EventFileReader.read(file).isEmpty());
    }
}
