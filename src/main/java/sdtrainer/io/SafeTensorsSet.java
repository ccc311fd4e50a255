package sdtrainer.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;

/**
 * The tensors of one model, stored either in a single safetensors file or in shards listed by a
 * {@code *.safetensors.index.json} ({@code {"metadata": {...}, "weight_map": {name: shard file}}}).
 * Offers the same names / info / load as {@link SafeTensors} over all shards.
 */
public final class SafeTensorsSet implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path source;
    private final List<SafeTensors> files;
    private final Map<String, SafeTensors> byName;
    private final Map<String, String> metadata;

    private SafeTensorsSet(Path source, List<SafeTensors> files, Map<String, SafeTensors> byName, Map<String, String> metadata) {
        this.source = source;
        this.files = files;
        this.byName = byName;
        this.metadata = metadata;
    }

    /** Opens a {@code .safetensors} file, or every shard of a {@code .safetensors.index.json}. */
    public static SafeTensorsSet open(Path path) throws IOException {
        if (path.getFileName().toString().endsWith(".index.json")) return openIndex(path);
        SafeTensors st = SafeTensors.open(path);
        Map<String, SafeTensors> byName = new LinkedHashMap<>();
        for (String n : st.names()) byName.put(n, st);
        return new SafeTensorsSet(path, List.of(st), byName, st.metadata());
    }

    /**
     * Opens the weights of a diffusers component folder (e.g. {@code unet/} with baseName
     * {@code diffusion_pytorch_model}, or {@code text_encoder/} with {@code model}): the single file if
     * present, else the sharded index. Pickle checkpoints are refused, since loading them can run code.
     */
    public static SafeTensorsSet openModelWeights(Path componentDir, String baseName) throws IOException {
        if (!Files.isDirectory(componentDir)) throw new TensorFileException(componentDir, "is not a directory");
        Path single = componentDir.resolve(baseName + ".safetensors");
        if (Files.isRegularFile(single)) return open(single);
        Path index = componentDir.resolve(baseName + ".safetensors.index.json");
        if (Files.isRegularFile(index)) return open(index);
        List<String> pickles = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(componentDir, "*.{bin,ckpt,pt,pth}")) {
            for (Path p : ds) pickles.add(p.getFileName().toString());
        }
        Collections.sort(pickles);
        if (!pickles.isEmpty()) {
            throw new TensorFileException(componentDir, "has only pickle checkpoints " + pickles
                    + ", which can execute arbitrary code when loaded and are not read; convert them to "
                    + baseName + ".safetensors first (e.g. with diffusers' save_pretrained(safe_serialization=True))");
        }
        throw new TensorFileException(componentDir, "has no " + single.getFileName() + " or " + index.getFileName());
    }

    private static SafeTensorsSet openIndex(Path index) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new TensorFileException(index, "is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw new TensorFileException(index, "is not a JSON object");
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject() || weightMap.isEmpty()) {
            throw new TensorFileException(index, "has no non-empty weight_map object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode meta = root.get("metadata");
        if (meta != null && !meta.isNull()) {
            if (!meta.isObject()) throw new TensorFileException(index, "metadata is not a JSON object");
            meta.fields().forEachRemaining(e -> metadata.put(e.getKey(),
                    e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString()));
        }
        Path dir = index.toAbsolutePath().getParent();
        Map<String, SafeTensors> shards = new LinkedHashMap<>();
        Map<String, SafeTensors> byName = new LinkedHashMap<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String shardName = shardName(index, e.getKey(), e.getValue());
                SafeTensors shard = shards.get(shardName);
                if (shard == null) {
                    Path shardFile = dir.resolve(shardName);
                    if (!Files.isRegularFile(shardFile)) {
                        throw new TensorFileException(index, "lists shard " + shardName + " for tensor '" + e.getKey()
                                + "', but " + shardFile + " does not exist");
                    }
                    shard = SafeTensors.open(shardFile);
                    shards.put(shardName, shard);
                }
                if (shard.info(e.getKey()) == null) {
                    throw new TensorFileException(index, "maps tensor '" + e.getKey() + "' to " + shard.file()
                            + ", which has no tensor of that name");
                }
                byName.put(e.getKey(), shard);
            }
        } catch (IOException | RuntimeException ex) {
            for (SafeTensors s : shards.values()) {
                try {
                    s.close();
                } catch (IOException suppressed) {
                    ex.addSuppressed(suppressed);
                }
            }
            throw ex;
        }
        return new SafeTensorsSet(index, List.copyOf(shards.values()), Collections.unmodifiableMap(byName),
                Collections.unmodifiableMap(metadata));
    }

    /** Shards must sit beside the index: a path out of the folder is a defect, not something to follow. */
    private static String shardName(Path index, String tensor, JsonNode value) throws TensorFileException {
        if (!value.isTextual()) throw new TensorFileException(index, "weight_map entry of '" + tensor + "' is not a file name");
        String name = value.textValue();
        Path p = Path.of(name);
        if (name.isEmpty() || p.isAbsolute() || p.getNameCount() != 1 || name.equals("..") || name.equals(".")) {
            throw new TensorFileException(index, "weight_map entry of '" + tensor + "' is '" + name
                    + "', not a file name in the index's folder");
        }
        return name;
    }

    /** The file this set was opened from (the single file or the index). */
    public Path source() { return source; }

    /** The opened safetensors files, one per shard. */
    public List<SafeTensors> files() { return files; }

    public Set<String> names() { return byName.keySet(); }

    /** A single file's {@code __metadata__}, or an index's {@code metadata} with values as text. */
    public Map<String, String> metadata() { return metadata; }

    /** The entry of that tensor (offsets within its shard), or null when the set has none of that name. */
    public SafeTensors.TensorInfo info(String name) {
        SafeTensors f = byName.get(name);
        return f == null ? null : f.info(name);
    }

    /** The shard holding that tensor. */
    public SafeTensors fileOf(String name) throws TensorFileException {
        SafeTensors f = byName.get(name);
        if (f == null) throw new TensorFileException(source, "no tensor named '" + name + "'");
        return f;
    }

    public ByteBuffer bytes(String name) throws IOException { return fileOf(name).bytes(name); }

    public TensorData read(String name) throws IOException { return fileOf(name).read(name); }

    public float[] readFloats(String name) throws IOException { return fileOf(name).readFloats(name); }

    public long[] readLongs(String name) throws IOException { return fileOf(name).readLongs(name); }

    public NDArray load(String name, NDManager manager) throws IOException { return fileOf(name).load(name, manager); }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafeTensors f : files) {
            try {
                f.close();
            } catch (IOException e) {
                if (first == null) first = e; else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }
}
