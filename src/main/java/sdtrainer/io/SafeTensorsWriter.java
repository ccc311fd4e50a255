package sdtrainer.io;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;
import java.util.regex.Pattern;

/**
 * Writes safetensors files the way the reference writer does: compact JSON header with
 * {@code __metadata__} first (keys sorted), tensors ordered by dtype (reference rank, widest first) then
 * name with their data laid out in that order, header padded with spaces to a multiple of 8.
 * Every file is written atomically.
 */
public final class SafeTensorsWriter {
    private SafeTensorsWriter() {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Comparator<Map.Entry<String, TensorData>> FILE_ORDER =
            Comparator.<Map.Entry<String, TensorData>>comparingInt(e -> -e.getValue().dtype().ordinal())
                    .thenComparing(Map.Entry::getKey);

    public static void write(Path file, Map<String, TensorData> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, null);
    }

    /**
     * Writes the tensors; when {@code floatType} is not null, every floating tensor is converted to it
     * (F64, F32, F16 or BF16, rounding to nearest even) and integer tensors are kept as they are.
     */
    public static void write(Path file, Map<String, TensorData> tensors, Map<String, String> metadata, DType floatType)
            throws IOException {
        List<Map.Entry<String, TensorData>> ordered = prepare(tensors, floatType);
        AtomicFiles.write(file, out -> writeTo(out, ordered, metadata));
    }

    /** The bytes {@link #write(Path, Map, Map, DType)} puts in a file, onto {@code out} (left open). */
    public static void writeTo(OutputStream out, Map<String, TensorData> tensors, Map<String, String> metadata, DType floatType)
            throws IOException {
        writeTo(out, prepare(tensors, floatType), metadata);
    }

    /** Engine convenience: copies each array to Java memory (any device), then writes as {@link #write(Path, Map, Map, DType)}. */
    public static void writeArrays(Path file, Map<String, NDArray> arrays, Map<String, String> metadata, DType floatType)
            throws IOException {
        write(file, fromArrays(arrays), metadata, floatType);
    }

    /**
     * Writes a model as one {@code <baseName>.safetensors} when its data fits {@code maxShardBytes},
     * otherwise as shards {@code <baseName>-00001-of-0000N.safetensors} plus
     * {@code <baseName>.safetensors.index.json} (written last, so it only names complete shards).
     * Stale files of the other layout or another shard count are removed. Returns the file to open.
     */
    public static Path writeModel(Path dir, String baseName, Map<String, TensorData> tensors, Map<String, String> metadata,
                                  DType floatType, long maxShardBytes) throws IOException {
        if (maxShardBytes <= 0) throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
        List<Map.Entry<String, TensorData>> ordered = prepare(tensors, floatType);
        List<List<Map.Entry<String, TensorData>>> shards = new ArrayList<>();
        List<Map.Entry<String, TensorData>> current = new ArrayList<>();
        long currentBytes = 0, total = 0;
        for (Map.Entry<String, TensorData> e : ordered) {
            long n = e.getValue().data().remaining();
            if (!current.isEmpty() && currentBytes + n > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(e);
            currentBytes += n;
            total += n;
        }
        shards.add(current);

        Path single = dir.resolve(baseName + ".safetensors");
        Path index = dir.resolve(baseName + ".safetensors.index.json");
        Set<Path> written = new HashSet<>();
        Path result;
        if (shards.size() == 1) {
            AtomicFiles.write(single, out -> writeTo(out, ordered, metadata));
            written.add(single);
            result = single;
        } else {
            ObjectNode weightMap = JSON.createObjectNode();
            SortedMap<String, String> byName = new TreeMap<>();
            for (int i = 0; i < shards.size(); i++) {
                String name = String.format(Locale.ROOT, "%s-%05d-of-%05d.safetensors", baseName, i + 1, shards.size());
                List<Map.Entry<String, TensorData>> shard = shards.get(i);
                Path shardFile = dir.resolve(name);
                AtomicFiles.write(shardFile, out -> writeTo(out, shard, metadata));
                written.add(shardFile);
                for (Map.Entry<String, TensorData> e : shard) byName.put(e.getKey(), name);
            }
            byName.forEach(weightMap::put);
            ObjectNode root = JSON.createObjectNode();
            root.putObject("metadata").put("total_size", total);
            root.set("weight_map", weightMap);
            AtomicFiles.writeString(index, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
            written.add(index);
            result = index;
        }
        removeStale(dir, baseName, written);
        return result;
    }

    private static void removeStale(Path dir, String baseName, Set<Path> keep) throws IOException {
        Pattern shard = Pattern.compile(Pattern.quote(baseName) + "-\\d{5}-of-\\d{5}\\.safetensors");
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                boolean ours = shard.matcher(n).matches() || n.equals(baseName + ".safetensors")
                        || n.equals(baseName + ".safetensors.index.json");
                if (ours && !keep.contains(p)) Files.delete(p);
            }
        }
    }

    static Map<String, TensorData> fromArrays(Map<String, NDArray> arrays) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        arrays.forEach((k, v) -> out.put(k, TensorData.fromNDArray(v)));
        return out;
    }

    private static List<Map.Entry<String, TensorData>> prepare(Map<String, TensorData> tensors, DType floatType) {
        if (floatType != null && !floatType.isFloating()) {
            throw new IllegalArgumentException("target float type must be F64, F32, F16 or BF16, got " + floatType);
        }
        List<Map.Entry<String, TensorData>> list = new ArrayList<>();
        for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
            if (e.getKey().equals(SafeTensors.METADATA_KEY)) {
                throw new IllegalArgumentException("a tensor cannot be named " + SafeTensors.METADATA_KEY);
            }
            TensorData t = e.getValue();
            if (floatType != null && t.dtype().isFloating()) t = t.toFloatType(floatType);
            list.add(Map.entry(e.getKey(), t));
        }
        list.sort(FILE_ORDER);
        return list;
    }

    private static void writeTo(OutputStream out, List<Map.Entry<String, TensorData>> ordered, Map<String, String> metadata)
            throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject(SafeTensors.METADATA_KEY);
            new TreeMap<>(metadata).forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, TensorData> e : ordered) {
            TensorData t = e.getValue();
            long end = offset + t.data().remaining();
            ObjectNode n = header.putObject(e.getKey());
            n.put("dtype", t.dtype().name());
            long[] shape = t.shape();
            var arr = n.putArray("shape");
            for (long d : shape) arr.add(d);
            n.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] head = Arrays.copyOf(json, padded);
        Arrays.fill(head, json.length, padded, (byte) ' ');
        ByteBuffer len = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
        out.write(len.array());
        out.write(head);
        byte[] chunk = new byte[1 << 16];
        for (Map.Entry<String, TensorData> e : ordered) {
            ByteBuffer b = e.getValue().data();
            if (b.hasArray()) {
                out.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
            } else {
                while (b.hasRemaining()) {
                    int n = Math.min(chunk.length, b.remaining());
                    b.get(chunk, 0, n);
                    out.write(chunk, 0, n);
                }
            }
        }
    }
}
