package sdtrainer.log;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reads TensorBoard event files back: checks both masked CRC-32Cs of every TFRecord and decodes
 * the scalar, image and text summaries that {@link TensorBoardWriter} writes. Unknown protobuf
 * fields are skipped, so files from other writers read as far as these fields go.
 */
public final class EventFileReader {

    /** One {@code tensorflow.Event}; {@code fileVersion} is null unless this is the file's header event. */
    public record Event(double wallTime, long step, String fileVersion, List<SummaryValue> values) {}

    /**
     * One {@code Summary.Value}: exactly one of {@code simpleValue}, {@code image}, {@code text} is set
     * for values we write. {@code text} is the string tensor's elements joined by newlines;
     * {@code pluginName} is null when the value carries no metadata.
     */
    public record SummaryValue(String tag, Float simpleValue, Image image, String text, String pluginName) {}

    /** {@code Summary.Image}; {@code encoded} holds the PNG (or other encoded) bytes. */
    public record Image(int height, int width, int colorspace, byte[] encoded) {}

    private EventFileReader() {}

    public static List<Event> read(Path file) throws IOException {
        List<Event> events = new ArrayList<>();
        forEach(file, events::add);
        return events;
    }

    /** Streams the events of {@code file} to {@code sink}, one record in memory at a time. */
    public static void forEach(Path file, Consumer<Event> sink) throws IOException {
        long size = Files.size(file);
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            byte[] header = new byte[12];
            long offset = 0;
            while (offset < size) {
                readFully(in, header, file, offset, size);
                ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
                long length = h.getLong(0);
                if (h.getInt(8) != Crc32c.masked(header, 0, 8)) {
                    throw corrupt(file, offset, "length CRC mismatch");
                }
                if (length < 0 || length > size - offset - 16) {
                    throw corrupt(file, offset, "declares " + length + " data bytes but only "
                            + Math.max(0, size - offset - 16) + " remain in the file");
                }
                if (length > Integer.MAX_VALUE - 8) {
                    throw corrupt(file, offset, "declares " + length + " data bytes, more than one record can hold");
                }
                byte[] data = new byte[(int) length + 4];
                readFully(in, data, file, offset, size);
                int dataCrc = ByteBuffer.wrap(data, (int) length, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
                if (dataCrc != Crc32c.masked(data, 0, (int) length)) {
                    throw corrupt(file, offset, "data CRC mismatch");
                }
                try {
                    sink.accept(decodeEvent(new ProtoReader(data, 0, (int) length)));
                } catch (IOException e) {
                    throw corrupt(file, offset, "malformed Event protobuf: " + e.getMessage());
                }
                offset += 16 + length;
            }
        }
    }

    private static Event decodeEvent(ProtoReader r) throws IOException {
        double wallTime = 0;
        long step = 0;
        String fileVersion = null;
        List<SummaryValue> values = new ArrayList<>();
        while (r.hasMore()) {
            switch (r.nextField()) {
                case 1 -> wallTime = r.readDouble();
                case 2 -> step = r.readVarint();
                case 3 -> fileVersion = r.readString();
                case 5 -> {
                    ProtoReader summary = r.readMessage();
                    while (summary.hasMore()) {
                        if (summary.nextField() == 1) values.add(decodeValue(summary.readMessage()));
                        else summary.skip();
                    }
                }
                default -> r.skip();
            }
        }
        return new Event(wallTime, step, fileVersion, List.copyOf(values));
    }

    private static SummaryValue decodeValue(ProtoReader r) throws IOException {
        String tag = "";
        Float simpleValue = null;
        Image image = null;
        String text = null;
        String pluginName = null;
        while (r.hasMore()) {
            switch (r.nextField()) {
                case 1 -> tag = r.readString();
                case 2 -> simpleValue = r.readFloat();
                case 4 -> image = decodeImage(r.readMessage());
                case 8 -> text = decodeStrings(r.readMessage());
                case 9 -> pluginName = decodePluginName(r.readMessage());
                default -> r.skip();
            }
        }
        return new SummaryValue(tag, simpleValue, image, text, pluginName);
    }

    private static Image decodeImage(ProtoReader r) throws IOException {
        int height = 0, width = 0, colorspace = 0;
        byte[] encoded = new byte[0];
        while (r.hasMore()) {
            switch (r.nextField()) {
                case 1 -> height = (int) r.readVarint();
                case 2 -> width = (int) r.readVarint();
                case 3 -> colorspace = (int) r.readVarint();
                case 4 -> encoded = r.readBytes();
                default -> r.skip();
            }
        }
        return new Image(height, width, colorspace, encoded);
    }

    /** The string_val elements of a TensorProto, or null for a tensor of another type. */
    private static String decodeStrings(ProtoReader r) throws IOException {
        List<String> strings = new ArrayList<>();
        while (r.hasMore()) {
            if (r.nextField() == 8) strings.add(r.readString());
            else r.skip();
        }
        return strings.isEmpty() ? null : String.join("\n", strings);
    }

    /** SummaryMetadata.plugin_data.plugin_name. */
    private static String decodePluginName(ProtoReader r) throws IOException {
        String name = null;
        while (r.hasMore()) {
            if (r.nextField() == 1) {
                ProtoReader pluginData = r.readMessage();
                while (pluginData.hasMore()) {
                    if (pluginData.nextField() == 1) name = pluginData.readString();
                    else pluginData.skip();
                }
            } else {
                r.skip();
            }
        }
        return name;
    }

    private static void readFully(InputStream in, byte[] buf, Path file, long recordOffset, long size) throws IOException {
        if (in.readNBytes(buf, 0, buf.length) != buf.length) {
            throw corrupt(file, recordOffset, "truncated: the file ends at byte " + size);
        }
    }

    private static IOException corrupt(Path file, long offset, String defect) {
        return new IOException(file + ": record at offset " + offset + ": " + defect);
    }
}
