package sdtrainer.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TempPaths;
import sdtrainer.io.TensorData;
import sdtrainer.nn.Module;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/** Writes a model as a diffusers directory, for every family: the modules' weights and the base's other files. */
final class DiffusersFolder {
    private static final ObjectMapper CONFIG_JSON = new ObjectMapper();
    private static final long MAX_SHARD_BYTES = 10L << 30;
    private static final String INDEX = "model_index.json";

    private DiffusersFolder() {}

    /**
     * Writes {@code modules} (by component folder) with their configs from {@code configDir}, copies
     * {@code copied} (tokenizer and scheduler folders) and model_index.json from there, in {@code precision},
     * loadable by us and by diffusers. The directory is assembled beside {@code out} and swapped in at the end,
     * so an interrupted save never leaves a half-written model.
     */
    static void save(Path out, Path configDir, Map<String, Module> modules, List<String> copied, DType precision)
            throws IOException {
        Path parent = out.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = TempPaths.directory(parent, out.getFileName() + ".saving-");
        try {
            copyIfPresent(configDir.resolve(INDEX), tmp.resolve(INDEX));
            for (String c : copied) copyTree(configDir.resolve(c), tmp.resolve(c));
            for (Map.Entry<String, Module> e : modules.entrySet()) {
                Path compDir = Files.createDirectories(tmp.resolve(e.getKey()));
                copyConfig(configDir.resolve(e.getKey()).resolve("config.json"), compDir.resolve("config.json"), precision);
                Map<String, TensorData> tensors = new LinkedHashMap<>();
                e.getValue().namedParameters().forEach((k, p) -> tensors.put(k, TensorData.fromNDArray(p.get())));
                SafeTensorsWriter.writeModel(compDir, ModelDirectory.weightsBaseName(e.getKey()), tensors,
                        Map.of("format", "pt"), precision, MAX_SHARD_BYTES);
            }
            Path old = null;
            if (Files.exists(out)) {
                Set<String> owned = new HashSet<>(modules.keySet());
                owned.addAll(copied);
                owned.add(INDEX);
                carryOver(out, tmp, owned);
                old = parent.resolve(out.getFileName() + ".old-" + System.nanoTime());
                Files.move(out, old, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
            if (old != null) deleteTree(old);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    /**
     * Moves what a save does not own (training logs, metrics, reports) from the old directory into the new one,
     * so they survive the swap; files open for appending follow their inode.
     */
    private static void carryOver(Path old, Path fresh, Set<String> owned) throws IOException {
        try (Stream<Path> entries = Files.list(old)) {
            for (Path e : (Iterable<Path>) entries::iterator) {
                if (!owned.contains(e.getFileName().toString())) Files.move(e, fresh.resolve(e.getFileName()));
            }
        }
    }

    /**
     * A component's config with the dtype its weights were saved in: transformers configs carry {@code torch_dtype}
     * (read by {@code from_pretrained(torch_dtype="auto")}); diffusers' configs only when the base had one.
     */
    private static void copyConfig(Path from, Path to, DType precision) throws IOException {
        JsonNode config = CONFIG_JSON.readTree(from.toFile());
        if (config instanceof ObjectNode o && (o.has("torch_dtype") || o.has("model_type"))) {
            o.put("torch_dtype", precision.torchName());
            Files.writeString(to, CONFIG_JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
        } else {
            Files.copy(from, to);
        }
    }

    private static void copyIfPresent(Path from, Path to) throws IOException {
        if (Files.isRegularFile(from)) Files.copy(from, to);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f)) Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) Files.delete(p);
        }
    }
}
