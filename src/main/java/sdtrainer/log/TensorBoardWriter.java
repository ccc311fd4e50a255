package sdtrainer.log;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Map;

/**
 * Writes a TensorBoard event file: TFRecord framing around {@code tensorflow.Event} protobufs
 * holding scalar, image and text summaries. Field numbers follow tensorflow's
 * {@code core/util/event.proto} and {@code core/framework/summary.proto}.
 *
 * <p>Thread-safe: the trainer may log from a background thread. Data reaches the disk at least
 * every {@link #FLUSH_INTERVAL_MILLIS} of logging and on {@link #flush()}, so a crash loses little.
 */
public final class TensorBoardWriter implements AutoCloseable {

    public static final String FILE_VERSION = "brain.Event:2";
    static final long FLUSH_INTERVAL_MILLIS = 2_000;

    // Event
    private static final int EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5;
    // Summary and Summary.Value
    private static final int SUMMARY_VALUE = 1;
    private static final int VALUE_TAG = 1, VALUE_SIMPLE_VALUE = 2, VALUE_IMAGE = 4, VALUE_TENSOR = 8, VALUE_METADATA = 9;
    // Summary.Image
    private static final int IMAGE_HEIGHT = 1, IMAGE_WIDTH = 2, IMAGE_COLORSPACE = 3, IMAGE_ENCODED = 4;
    // TensorProto, TensorShapeProto, SummaryMetadata, SummaryMetadata.PluginData
    private static final int TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, TENSOR_STRING_VAL = 8;
    private static final int DT_STRING = 7;
    private static final int METADATA_PLUGIN_DATA = 1, PLUGIN_NAME = 1, METADATA_DESCRIPTION = 3;

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

    private final Path file;
    private final Clock clock;
    private final OutputStream out;
    private long lastFlushMillis;
    private boolean closed;

    /** Creates a new event file in {@code dir} (created if missing), stamped with the current time. */
    public TensorBoardWriter(Path dir) throws IOException {
        this(dir, Clock.systemUTC());
    }

    public TensorBoardWriter(Path dir, Clock clock) throws IOException {
        this.clock = clock;
        Files.createDirectories(dir);
        String base = "events.out.tfevents." + clock.millis() / 1000 + "." + hostname();
        Path candidate = dir.resolve(base);
        OutputStream stream = null;
        // Two writers started in the same second on the same host must not share a file.
        for (int n = 1; stream == null; n++) {
            try {
                stream = Files.newOutputStream(candidate, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException e) {
                candidate = dir.resolve(base + "." + n);
            }
        }
        this.file = candidate;
        // Whole records are handed to the buffer in one write: BufferedOutputStream then flushes
        // before a record that does not fit, so the file only ever holds complete records.
        this.out = new BufferedOutputStream(stream, 1 << 16);
        writeEvent(event(0).string(EVENT_FILE_VERSION, FILE_VERSION));
        flush();
    }

    public Path file() {
        return file;
    }

    public void addScalar(String tag, double value, long step) throws IOException {
        addScalars(Map.of(tag, value), step);
    }

    /** Writes several scalars of one step as one event. */
    public void addScalars(Map<String, ? extends Number> values, long step) throws IOException {
        ProtoWriter summary = new ProtoWriter();
        values.forEach((tag, value) -> summary.message(SUMMARY_VALUE,
                new ProtoWriter().string(VALUE_TAG, tag).floatField(VALUE_SIMPLE_VALUE, value.floatValue())));
        writeSummary(summary, step);
    }

    /** Encodes {@code image} as PNG and logs it. */
    public void addImage(String tag, BufferedImage image, long step) throws IOException {
        addImage(tag, image, null, step);
    }

    /** As {@link #addImage(String, BufferedImage, long)}, with a text TensorBoard shows under the image (or null). */
    public void addImage(String tag, BufferedImage image, String description, long step) throws IOException {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        // a memory cache: ImageIO's default file cache registers a shutdown hook, which fails while a stopped
        // run (Ctrl-C) is saving its last samples
        try (javax.imageio.stream.ImageOutputStream out = new javax.imageio.stream.MemoryCacheImageOutputStream(png)) {
            if (!ImageIO.write(image, "png", out)) {
                throw new IllegalArgumentException("no PNG encoder for image type " + image.getType());
            }
        }
        addImage(tag, png.toByteArray(), description, step);
    }

    /** Logs an already encoded PNG; its size and colour type are read from the IHDR chunk. */
    public void addImage(String tag, byte[] png, long step) throws IOException {
        addImage(tag, png, null, step);
    }

    private void addImage(String tag, byte[] png, String description, long step) throws IOException {
        ProtoWriter image = pngHeader(png).bytes(IMAGE_ENCODED, png);
        ProtoWriter value = new ProtoWriter().string(VALUE_TAG, tag);
        if (description != null) value.message(VALUE_METADATA, new ProtoWriter().string(METADATA_DESCRIPTION, description));
        writeSummary(new ProtoWriter().message(SUMMARY_VALUE, value.message(VALUE_IMAGE, image)), step);
    }

    /** Logs text for TensorBoard's text plugin: a scalar string tensor tagged with plugin "text". */
    public void addText(String tag, String text, long step) throws IOException {
        ProtoWriter tensor = new ProtoWriter()
                .varint(TENSOR_DTYPE, DT_STRING)
                .message(TENSOR_SHAPE, new ProtoWriter()) // rank 0: no dims
                .string(TENSOR_STRING_VAL, text);
        ProtoWriter metadata = new ProtoWriter()
                .message(METADATA_PLUGIN_DATA, new ProtoWriter().string(PLUGIN_NAME, "text"));
        writeSummary(new ProtoWriter().message(SUMMARY_VALUE, new ProtoWriter()
                .string(VALUE_TAG, tag).message(VALUE_METADATA, metadata).message(VALUE_TENSOR, tensor)), step);
    }

    public synchronized void flush() throws IOException {
        ensureOpen();
        out.flush();
        lastFlushMillis = clock.millis();
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) return;
        closed = true;
        out.close();
    }

    private void writeSummary(ProtoWriter summary, long step) throws IOException {
        writeEvent(event(step).message(EVENT_SUMMARY, summary));
    }

    private ProtoWriter event(long step) {
        ProtoWriter event = new ProtoWriter().doubleField(EVENT_WALL_TIME, clock.millis() / 1000.0);
        // proto3 leaves a zero step out, as TensorFlow's own writer does.
        return step == 0 ? event : event.varint(EVENT_STEP, step);
    }

    private synchronized void writeEvent(ProtoWriter event) throws IOException {
        ensureOpen();
        out.write(frame(event.toByteArray()));
        if (clock.millis() - lastFlushMillis >= FLUSH_INTERVAL_MILLIS) flush();
    }

    /** TFRecord: uint64 length, masked CRC of the length bytes, data, masked CRC of the data; little-endian. */
    static byte[] frame(byte[] data) {
        ByteBuffer record = ByteBuffer.allocate(8 + 4 + data.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        record.putLong(data.length);
        record.putInt(Crc32c.masked(record.array(), 0, 8));
        record.put(data);
        record.putInt(Crc32c.masked(data, 0, data.length));
        return record.array();
    }

    /** Summary.Image height, width and colorspace from a PNG's IHDR chunk. */
    private static ProtoWriter pngHeader(byte[] png) {
        if (png.length < 26 || !ByteBuffer.wrap(png, 0, 8).equals(ByteBuffer.wrap(PNG_SIGNATURE))
                || png[12] != 'I' || png[13] != 'H' || png[14] != 'D' || png[15] != 'R') {
            throw new IllegalArgumentException("image bytes are not a PNG (no signature and IHDR chunk)");
        }
        ByteBuffer ihdr = ByteBuffer.wrap(png); // PNG is big-endian
        int width = ihdr.getInt(16);
        int height = ihdr.getInt(20);
        int colorspace = switch (png[25]) {
            case 0 -> 1;          // grey
            case 4 -> 2;          // grey + alpha
            case 6 -> 4;          // RGBA
            default -> 3;         // RGB, palette
        };
        return new ProtoWriter().varint(IMAGE_HEIGHT, height).varint(IMAGE_WIDTH, width).varint(IMAGE_COLORSPACE, colorspace);
    }

    private static String hostname() {
        String name;
        try {
            name = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            name = "localhost";
        }
        return name.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("TensorBoard writer for " + file + " is closed");
    }
}
