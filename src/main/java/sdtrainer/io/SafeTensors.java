package sdtrainer.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.*;

/**
 * Memory-mapped reader of one safetensors file. Tensors are mapped lazily, one region each,
 * so files over 2 GiB work and nothing is read until a tensor is asked for.
 */
public final class SafeTensors implements AutoCloseable {

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

    public static SafeTensors open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) throw new TensorFileException(file, "file is " + size + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen <= 0 || headerLen > size - 8) {
                throw new TensorFileException(file, "declared header length " + headerLen + " exceeds the file size " + size);
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            JsonNode root = new ObjectMapper().readTree(hb.array());
            Map<String, TensorInfo> infos = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            long dataStart = 8 + headerLen;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    e.getValue().fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                JsonNode n = e.getValue();
                long[] shape = new long[n.get("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = n.get("shape").get(i).asLong();
                long b = n.get("data_offsets").get(0).asLong(), en = n.get("data_offsets").get(1).asLong();
                infos.put(e.getKey(), new TensorInfo(e.getKey(), n.get("dtype").asText(), shape, dataStart + b, dataStart + en));
            }
            return new SafeTensors(file, ch, Collections.unmodifiableMap(infos), Collections.unmodifiableMap(meta));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }

    public Path file() { return file; }
    public Set<String> names() { return tensors.keySet(); }
    public TensorInfo info(String name) { return tensors.get(name); }
    public Map<String, String> metadata() { return metadata; }

    /** Raw little-endian bytes of one tensor, mapped read-only. */
    public ByteBuffer bytes(String name) throws IOException {
        TensorInfo t = require(name);
        MappedByteBuffer mb = channel.map(FileChannel.MapMode.READ_ONLY, t.begin(), t.end() - t.begin());
        return mb.order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Loads a tensor; floating types come back as float32 (bf16/f16 widened), integers keep their type. */
    public NDArray load(String name, NDManager manager) throws IOException {
        TensorInfo t = require(name);
        Shape shape = new Shape(t.shape());
        ByteBuffer src = bytes(name);
        switch (t.dtype()) {
            case "F32": return manager.create(src, shape, DataType.FLOAT32);
            case "F16": return manager.create(src, shape, DataType.FLOAT16).toType(DataType.FLOAT32, false);
            case "BF16": {
                ByteBuffer out = ByteBuffer.allocateDirect((int) (t.numel() * 4)).order(ByteOrder.nativeOrder());
                while (src.hasRemaining()) out.putInt((src.getShort() & 0xffff) << 16);
                out.flip();
                return manager.create(out, shape, DataType.FLOAT32);
            }
            case "F64": return manager.create(src, shape, DataType.FLOAT64).toType(DataType.FLOAT32, false);
            case "I64": return manager.create(src, shape, DataType.INT64);
            case "I32": return manager.create(src, shape, DataType.INT32);
            case "U8": return manager.create(src, shape, DataType.UINT8);
            case "BOOL": return manager.create(src, shape, DataType.BOOLEAN);
            default: throw new TensorFileException(file, "tensor '" + name + "' has unsupported dtype " + t.dtype());
        }
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
