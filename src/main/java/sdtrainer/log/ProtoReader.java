package sdtrainer.log;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Protobuf wire-format decoder over one byte range. Defects are reported as IOExceptions with
 * the position inside the message; the caller adds the file and record.
 */
final class ProtoReader {

    private final byte[] buf;
    private int pos;
    private final int limit;
    private int wireType;

    ProtoReader(byte[] buf, int offset, int length) {
        this.buf = buf;
        this.pos = offset;
        this.limit = offset + length;
    }

    boolean hasMore() {
        return pos < limit;
    }

    /** Reads the next key and returns its field number; its wire type is checked by the readers below. */
    int nextField() throws IOException {
        long key = rawVarint();
        int field = (int) (key >>> 3);
        wireType = (int) (key & 7);
        if (field <= 0 || key >>> 3 > Integer.MAX_VALUE) throw defect("invalid field number " + (key >>> 3));
        return field;
    }

    long readVarint() throws IOException {
        expect(ProtoWriter.VARINT);
        return rawVarint();
    }

    double readDouble() throws IOException {
        expect(ProtoWriter.FIXED64);
        need(8);
        long bits = 0;
        for (int i = 0; i < 8; i++) bits |= (buf[pos++] & 0xFFL) << (8 * i);
        return Double.longBitsToDouble(bits);
    }

    float readFloat() throws IOException {
        expect(ProtoWriter.FIXED32);
        need(4);
        int bits = 0;
        for (int i = 0; i < 4; i++) bits |= (buf[pos++] & 0xFF) << (8 * i);
        return Float.intBitsToFloat(bits);
    }

    byte[] readBytes() throws IOException {
        int length = lengthPrefix();
        byte[] value = new byte[length];
        System.arraycopy(buf, pos, value, 0, length);
        pos += length;
        return value;
    }

    String readString() throws IOException {
        return new String(readBytes(), StandardCharsets.UTF_8);
    }

    ProtoReader readMessage() throws IOException {
        int length = lengthPrefix();
        ProtoReader sub = new ProtoReader(buf, pos, length);
        pos += length;
        return sub;
    }

    /** Skips the value of a field this reader's caller does not know. */
    void skip() throws IOException {
        switch (wireType) {
            case ProtoWriter.VARINT -> rawVarint();
            case ProtoWriter.FIXED64 -> { need(8); pos += 8; }
            case ProtoWriter.LENGTH_DELIMITED -> {
                int length = lengthPrefix(); // not `pos += lengthPrefix()`: that reads pos before the prefix moves it
                pos += length;
            }
            case ProtoWriter.FIXED32 -> { need(4); pos += 4; }
            default -> throw defect("unsupported wire type " + wireType);
        }
    }

    private int lengthPrefix() throws IOException {
        expect(ProtoWriter.LENGTH_DELIMITED);
        long length = rawVarint();
        if (length < 0 || length > limit - pos) {
            throw defect("length " + length + " exceeds the " + (limit - pos) + " bytes left in the message");
        }
        return (int) length;
    }

    private long rawVarint() throws IOException {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            need(1);
            byte b = buf[pos++];
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) return value;
        }
        throw defect("varint longer than 10 bytes");
    }

    private void expect(int expected) throws IOException {
        if (wireType != expected) throw defect("wire type " + wireType + " where " + expected + " was expected");
    }

    private void need(int n) throws IOException {
        if (limit - pos < n) throw defect("message ends inside a value");
    }

    private IOException defect(String what) {
        return new IOException(what + " at byte " + pos + " of the event");
    }
}
