package sdtrainer.io;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;

/**
 * NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0), little-endian, C order only.
 * Reads {@code <f8 <f4 <f2 <i8 <i4 <i2 |i1 |u1 |b1}; writes the same, with NumPy's own header layout.
 */
public final class Npy {
    private Npy() {}

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** NumPy refuses headers over 10000 bytes by default; we allow more but never an arbitrary amount. */
    private static final int MAX_HEADER_BYTES = 1 << 20;
    private static final int ALIGN = 64;
    /** NumPy pads the header so the first axis can grow in place up to this many digits. */
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;

    public static TensorData read(Path file) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            return read(in, Files.size(file), file, "");
        }
    }

    /** Writes one array atomically. */
    public static void write(Path file, TensorData array) throws IOException {
        AtomicFiles.write(file, out -> write(out, array));
    }

    /** The complete {@code .npy} bytes of one array. */
    public static byte[] toBytes(TensorData array) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        write(out, array);
        return out.toByteArray();
    }

    static void write(OutputStream out, TensorData array) throws IOException {
        String descr = array.dtype().npyDescr().orElseThrow(() ->
                new IllegalArgumentException("NumPy has no " + array.dtype() + " type; convert to F32 or F16 first"));
        long[] shape = array.shape();
        StringBuilder h = new StringBuilder("{'descr': '").append(descr).append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.length; i++) h.append(i > 0 ? ", " : "").append(shape[i]);
        h.append(shape.length == 1 ? ",), }" : "), }");
        if (shape.length > 0) h.append(" ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - Long.toString(shape[0]).length())));
        int version = h.length() + 1 + 64 < 0xffff ? 1 : 2;
        int prefix = MAGIC.length + 2 + (version == 1 ? 2 : 4);
        // Same rule as NumPy: a header already on the boundary still gets a full block of padding.
        int pad = ALIGN - ((prefix + h.length() + 1) % ALIGN);
        h.append(" ".repeat(pad)).append('\n');
        byte[] header = h.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer pre = ByteBuffer.allocate(prefix).order(ByteOrder.LITTLE_ENDIAN).put(MAGIC).put((byte) version).put((byte) 0);
        if (version == 1) pre.putShort((short) header.length); else pre.putInt(header.length);
        out.write(pre.array());
        out.write(header);
        ByteBuffer data = array.data();
        byte[] chunk = new byte[Math.min(1 << 16, Math.max(1, data.remaining()))];
        while (data.hasRemaining()) {
            int n = Math.min(chunk.length, data.remaining());
            data.get(chunk, 0, n);
            out.write(chunk, 0, n);
        }
    }

    /**
     * Reads one array from a stream positioned at the magic string.
     * {@code available} is the number of bytes the source holds from here (or -1 when unknown); it is
     * checked against the header's shape before anything is allocated. Errors name {@code file} and,
     * inside an archive, {@code entry}.
     */
    static TensorData read(InputStream in, long available, Path file, String entry) throws IOException {
        String where = entry.isEmpty() ? "" : "entry '" + entry + "': ";
        byte[] pre = in.readNBytes(MAGIC.length + 2);
        if (pre.length < MAGIC.length + 2 || !Arrays.equals(Arrays.copyOf(pre, MAGIC.length), MAGIC)) {
            throw new TensorFileException(file, where + "not a .npy array (missing \\x93NUMPY magic)");
        }
        int major = pre[6] & 0xff, minor = pre[7] & 0xff;
        if (major < 1 || major > 3 || minor != 0) {
            throw new TensorFileException(file, where + "unsupported .npy format version " + major + "." + minor);
        }
        int lenBytes = major == 1 ? 2 : 4;
        byte[] lenField = in.readNBytes(lenBytes);
        if (lenField.length < lenBytes) throw new TensorFileException(file, where + "truncated .npy header");
        ByteBuffer lb = ByteBuffer.wrap(lenField).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = major == 1 ? lb.getShort() & 0xffff : lb.getInt() & 0xffffffffL;
        long prefix = MAGIC.length + 2 + lenBytes;
        if (available >= 0 && headerLen > available - prefix) {
            throw new TensorFileException(file, where + "declared header length " + headerLen + " runs past the end of the data ("
                    + available + " bytes)");
        }
        if (headerLen > MAX_HEADER_BYTES) {
            throw new TensorFileException(file, where + "declared header length " + headerLen + " exceeds the limit of " + MAX_HEADER_BYTES);
        }
        byte[] hb = in.readNBytes((int) headerLen);
        if (hb.length < headerLen) throw new TensorFileException(file, where + "truncated .npy header");
        String text;
        try {
            text = (major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1).newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(hb)).toString();
        } catch (CharacterCodingException e) {
            throw new TensorFileException(file, where + "header is not valid UTF-8");
        }
        Map<String, Object> dict;
        try {
            dict = new HeaderParser(text).parseDict();
        } catch (IllegalArgumentException e) {
            throw new TensorFileException(file, where + "malformed .npy header: " + e.getMessage() + " in " + text.strip());
        }
        if (!dict.keySet().equals(Set.of("descr", "fortran_order", "shape"))) {
            throw new TensorFileException(file, where + "header keys are " + dict.keySet() + ", expected descr, fortran_order, shape");
        }
        if (!(dict.get("descr") instanceof String descr)) throw new TensorFileException(file, where + "descr is not a simple type string (structured arrays are not supported)");
        if (!(dict.get("fortran_order") instanceof Boolean fortran)) throw new TensorFileException(file, where + "fortran_order is not True or False");
        if (!(dict.get("shape") instanceof long[] shape)) throw new TensorFileException(file, where + "shape is not a tuple of integers");
        if (fortran) throw new TensorFileException(file, where + "array is in Fortran order; only C order is supported (save np.ascontiguousarray(a))");
        DType dtype = dtypeOf(file, where, descr);
        long need;
        try {
            need = Math.multiplyExact(TensorData.numel(shape), (long) dtype.size());
        } catch (ArithmeticException | IllegalArgumentException e) {
            throw new TensorFileException(file, where + "shape " + Arrays.toString(shape) + " is invalid or too large");
        }
        long dataAvailable = available < 0 ? -1 : available - prefix - headerLen;
        if (dataAvailable >= 0 && dataAvailable != need) {
            throw new TensorFileException(file, where + "data is " + dataAvailable + " bytes but " + descr + " shape "
                    + Arrays.toString(shape) + " needs " + need);
        }
        if (need > Integer.MAX_VALUE - 8) throw new TensorFileException(file, where + "array of " + need + " bytes exceeds 2 GiB");
        // With an unknown length, readNBytes grows with what actually arrives, so a lying shape cannot exhaust memory.
        byte[] data = in.readNBytes((int) need);
        if (data.length != need) {
            throw new TensorFileException(file, where + "data is " + data.length + " bytes but " + descr + " shape "
                    + Arrays.toString(shape) + " needs " + need);
        }
        if (available < 0 && in.read() >= 0) {
            throw new TensorFileException(file, where + "data is longer than " + descr + " shape " + Arrays.toString(shape) + " needs");
        }
        return new TensorData(dtype, shape, ByteBuffer.wrap(data));
    }

    private static DType dtypeOf(Path file, String where, String descr) throws TensorFileException {
        if (descr.length() >= 2) {
            char order = descr.charAt(0);
            String kind = descr.substring(1);
            Optional<DType> little = DType.fromNpy("<" + kind).or(() -> DType.fromNpy("|" + kind));
            if (little.isPresent()) {
                DType d = little.get();
                boolean singleByte = d.size() == 1;
                if (order == '<' || (singleByte && (order == '|' || order == '>' || order == '='))) return d;
                if (order == '>') throw new TensorFileException(file, where + "dtype '" + descr + "' is big-endian; only little-endian is supported");
            }
        }
        throw new TensorFileException(file, where + "unsupported dtype '" + descr + "' (supported: <f8 <f4 <f2 <i8 <i4 <i2 |i1 |u1 |b1)");
    }

    /** Parser for the Python dict literal of a .npy header: strings, True/False and tuples of integers. */
    private static final class HeaderParser {
        private final String s;
        private int pos;

        HeaderParser(String s) { this.s = s; }

        Map<String, Object> parseDict() {
            Map<String, Object> out = new LinkedHashMap<>();
            expect('{');
            while (peek() != '}') {
                String key = string();
                expect(':');
                if (out.put(key, value()) != null) throw new IllegalArgumentException("duplicate key '" + key + "'");
                if (peek() == ',') pos++; else break;
            }
            expect('}');
            if (peek() != 0) throw new IllegalArgumentException("unexpected text after the dict at " + pos);
            return out;
        }

        private Object value() {
            char c = peek();
            if (c == '\'' || c == '"') return string();
            if (c == '(') return tuple();
            if (s.startsWith("True", pos)) { pos += 4; return Boolean.TRUE; }
            if (s.startsWith("False", pos)) { pos += 5; return Boolean.FALSE; }
            throw new IllegalArgumentException("unsupported value at " + pos);
        }

        private long[] tuple() {
            expect('(');
            List<Long> dims = new ArrayList<>();
            while (peek() != ')') {
                int start = pos;
                while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
                if (start == pos) throw new IllegalArgumentException("expected a non-negative integer at " + start);
                try {
                    dims.add(Long.parseLong(s.substring(start, pos)));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("dimension " + s.substring(start, pos) + " too large");
                }
                if (pos < s.length() && s.charAt(pos) == 'L') pos++; // Python 2 long suffix
                if (peek() == ',') pos++; else break;
            }
            expect(')');
            return dims.stream().mapToLong(Long::longValue).toArray();
        }

        private String string() {
            char q = peek();
            if (q != '\'' && q != '"') throw new IllegalArgumentException("expected a quoted string at " + pos);
            int end = s.indexOf(q, ++pos);
            if (end < 0) throw new IllegalArgumentException("unterminated string at " + pos);
            String v = s.substring(pos, end);
            pos = end + 1;
            return v;
        }

        private void expect(char c) {
            if (peek() != c) throw new IllegalArgumentException("expected '" + c + "' at " + pos);
            pos++;
        }

        /** Next non-blank character (0 at the end), skipping the blanks. */
        private char peek() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) pos++;
            return pos < s.length() ? s.charAt(pos) : 0;
        }
    }
}
