package sdtrainer.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.*;

/**
 * Memory-mapped reader of one safetensors file. The header is validated strictly when the file is
 * opened; tensors are mapped lazily, one region each, so files over 2 GiB work and nothing is read
 * until a tensor is asked for.
 */
public final class SafeTensors implements AutoCloseable {

    /** Largest header accepted, so a lying length field cannot make us allocate gigabytes. */
    static final long MAX_HEADER_BYTES = 100L << 20;

    static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** One tensor's entry in the header; offsets are absolute positions in the file. */
    public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    private final Path file;
    private final FileChannel channel;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafeTensors(Path file, FileChannel channel, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates a safetensors file; every defect is a {@link TensorFileException} naming file and defect. */
    public static SafeTensors open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) throw new TensorFileException(file, "file is " + size + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(file, ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (Long.compareUnsigned(headerLen, size - 8) > 0) {
                throw new TensorFileException(file, "declared header length " + Long.toUnsignedString(headerLen)
                        + " runs past the end of the file (" + size + " bytes)");
            }
            if (headerLen < 2) throw new TensorFileException(file, "declared header length " + headerLen + " is too short for a JSON object");
            if (headerLen > MAX_HEADER_BYTES) {
                throw new TensorFileException(file, "declared header length " + headerLen
                        + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(file, ch, hb, 8);
            hb.flip();
            Header header = parseHeader(file, decodeUtf8(file, hb), 8 + headerLen, size);
            return new SafeTensors(file, ch, header.tensors, header.metadata);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private static String decodeUtf8(Path file, ByteBuffer bytes) throws TensorFileException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw new TensorFileException(file, "header is not valid UTF-8 (" + e.getMessage() + ")");
        }
    }

    private static Header parseHeader(Path file, String text, long dataStart, long fileSize) throws TensorFileException {
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        long dataLen = fileSize - dataStart;
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new TensorFileException(file, "header is not a JSON object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                JsonNode value = JSON.readTree(p);
                if (key.equals(METADATA_KEY)) {
                    readMetadata(file, value, meta);
                } else {
                    TensorInfo t = tensorInfo(file, key, value, dataStart, dataLen);
                    infos.put(key, t);
                }
            }
            if (p.nextToken() != null) throw new TensorFileException(file, "header has content after its JSON object");
        } catch (StreamReadException e) {
            String msg = e.getOriginalMessage();
            if (msg.startsWith("Duplicate field")) {
                throw new TensorFileException(file, "header has a duplicate key: " + msg.substring("Duplicate field ".length())
                        + " (tensor and metadata names must be unique)");
            }
            throw new TensorFileException(file, "header is not valid JSON: " + msg);
        } catch (TensorFileException e) {
            throw e;
        } catch (IOException e) {
            throw new TensorFileException(file, "header is not valid JSON: " + e.getMessage());
        }
        checkOverlaps(file, infos.values());
        return new Header(Collections.unmodifiableMap(infos), Collections.unmodifiableMap(meta));
    }

    private static void readMetadata(Path file, JsonNode value, Map<String, String> meta) throws TensorFileException {
        if (!value.isObject()) throw new TensorFileException(file, METADATA_KEY + " is not a JSON object");
        for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw new TensorFileException(file, METADATA_KEY + " value of '" + m.getKey() + "' is "
                        + m.getValue().getNodeType().toString().toLowerCase(Locale.ROOT) + ", not a string");
            }
            meta.put(m.getKey(), m.getValue().textValue());
        }
    }

    private static TensorInfo tensorInfo(Path file, String name, JsonNode n, long dataStart, long dataLen)
            throws TensorFileException {
        String where = "tensor '" + name + "'";
        if (!n.isObject()) throw new TensorFileException(file, where + " is not a JSON object");
        JsonNode dt = n.get("dtype");
        if (dt == null || !dt.isTextual()) throw new TensorFileException(file, where + " has no dtype string");
        DType dtype = DType.parse(dt.textValue()).orElseThrow(() ->
                new TensorFileException(file, where + " has unknown dtype '" + dt.textValue() + "'"));
        long[] shape = nonNegativeLongs(file, where, "shape", n.get("shape"), -1);
        long[] offsets = nonNegativeLongs(file, where, "data_offsets", n.get("data_offsets"), 2);
        long numel;
        try {
            numel = TensorData.numel(shape);
            long need = Math.multiplyExact(numel, (long) dtype.size());
            if (offsets[1] < offsets[0]) {
                throw new TensorFileException(file, where + " has data_offsets " + Arrays.toString(offsets) + " that end before they begin");
            }
            if (offsets[1] > dataLen) {
                throw new TensorFileException(file, where + " has data_offsets " + Arrays.toString(offsets)
                        + " outside the data region of " + dataLen + " bytes");
            }
            if (offsets[1] - offsets[0] != need) {
                throw new TensorFileException(file, where + " of " + dtype + Arrays.toString(shape) + " needs " + need
                        + " bytes but its data_offsets " + Arrays.toString(offsets) + " span " + (offsets[1] - offsets[0]));
            }
        } catch (ArithmeticException e) {
            throw new TensorFileException(file, where + " has shape " + Arrays.toString(shape) + " whose size overflows");
        }
        return new TensorInfo(name, dtype.name(), shape, dataStart + offsets[0], dataStart + offsets[1]);
    }

    private static long[] nonNegativeLongs(Path file, String where, String field, JsonNode node, int length)
            throws TensorFileException {
        if (node == null || !node.isArray() || (length >= 0 && node.size() != length)) {
            throw new TensorFileException(file, where + " has no valid " + field + " (need "
                    + (length >= 0 ? "an array of " + length : "an array of") + " non-negative integers, got " + node + ")");
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new TensorFileException(file, where + " has invalid " + field + " " + node + " (need non-negative integers)");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    /** Gaps between tensors are tolerated; shared bytes are not, since a write to one would change the other. */
    private static void checkOverlaps(Path file, Collection<TensorInfo> infos) throws TensorFileException {
        List<TensorInfo> sorted = new ArrayList<>();
        for (TensorInfo t : infos) if (t.end() > t.begin()) sorted.add(t);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo a = sorted.get(i - 1), b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new TensorFileException(file, "tensors '" + a.name() + "' and '" + b.name() + "' overlap in the data region");
            }
        }
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) throw new TensorFileException(file, "unexpected end of file at byte " + (pos + buf.position()));
        }
    }

    public Path file() { return file; }
    public Set<String> names() { return tensors.keySet(); }
    /** The entry of that tensor, or null when the file has none of that name. */
    public TensorInfo info(String name) { return tensors.get(name); }
    public Map<String, String> metadata() { return metadata; }

    /** Raw little-endian bytes of one tensor, mapped read-only. */
    public ByteBuffer bytes(String name) throws IOException {
        TensorInfo t = require(name);
        long len = t.end() - t.begin();
        if (len > Integer.MAX_VALUE) throw new TensorFileException(file, "tensor '" + name + "' is " + len + " bytes, over the 2 GiB a single mapping holds");
        return channel.map(FileChannel.MapMode.READ_ONLY, t.begin(), len).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** One tensor as a read-only, zero-copy view of the mapping; it stays valid after {@link #close()}. */
    public TensorData read(String name) throws IOException {
        TensorInfo t = require(name);
        return new TensorData(DType.valueOf(t.dtype()), t.shape(), bytes(name));
    }

    /** Values of a floating tensor (F64, F32, F16, BF16) as float32, without the engine. */
    public float[] readFloats(String name) throws IOException {
        TensorData t = read(name);
        if (!t.dtype().isFloating()) throw new TensorFileException(file, "tensor '" + name + "' is " + t.dtype() + ", not a floating type");
        return t.toFloats();
    }

    /** Values of an integer tensor (I64 or I32) as long, without the engine. */
    public long[] readLongs(String name) throws IOException {
        TensorData t = read(name);
        if (t.dtype() != DType.I64 && t.dtype() != DType.I32) {
            throw new TensorFileException(file, "tensor '" + name + "' is " + t.dtype() + ", not I64 or I32");
        }
        return t.toLongs();
    }

    /**
     * Loads a tensor into a new array that owns its memory, so in-place ops are safe. Floating types come back
     * as float32 (F16/BF16/F64 converted in Java), integers and booleans keep their type except I16, which
     * becomes INT32 (DJL's INT16 aborts the JVM). A tensor the engine takes as stored is read from the file
     * straight into the array's memory (libtorch uses the direct buffer as is), so no mapping holds the
     * file's pages in this process's memory beside the weights.
     */
    public NDArray load(String name, NDManager manager) throws IOException {
        TensorInfo t = require(name);
        DType dtype = DType.valueOf(t.dtype());
        if (!TensorData.engineTakesAsStored(dtype)) return read(name).toNDArray(manager);
        ByteBuffer direct = ByteBuffer.allocateDirect(Math.toIntExact(t.end() - t.begin())).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, channel, direct, t.begin());
        direct.flip();
        return TensorData.wrap(dtype, t.shape(), direct, manager);
    }

    private TensorInfo require(String name) throws TensorFileException {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new TensorFileException(file, "no tensor named '" + name + "'");
        return t;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
