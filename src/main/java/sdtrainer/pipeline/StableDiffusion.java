package sdtrainer.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTokenizer;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.LongPromptEncoder;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.diffusion.SchedulerConfig;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TempPaths;
import sdtrainer.io.TensorData;
import sdtrainer.nn.Module;
import sdtrainer.nn.StateDict;
import sdtrainer.pipeline.format.ModelFamily;
import sdtrainer.pipeline.format.SingleFile;
import sdtrainer.pipeline.format.SingleFileLayout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import java.util.List;

/** A Stable Diffusion 1.x / 2.x model loaded from a diffusers directory or a single file; owns its parameters' memory. */
public final class StableDiffusion implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(StableDiffusion.class);
    private final Path dir;
    private final Path configDir;
    private final ModelFamily family;
    private final NDManager manager;
    private final ClipTokenizer tokenizer;
    private final ClipTextModel textEncoder;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private NoiseSchedule schedule;
    private LongPromptEncoder promptEncoder;

    private StableDiffusion(Path dir, Path configDir, ModelFamily family, NDManager manager, ClipTokenizer tokenizer,
                            ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae, NoiseSchedule schedule) {
        this.dir = dir;
        this.configDir = configDir;
        this.family = family;
        this.manager = manager;
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.schedule = schedule;
        this.promptEncoder = LongPromptEncoder.standard(tokenizer, textEncoder);
    }

    public static StableDiffusion load(Path dir, Device device) throws IOException {
        return load(ModelSource.of(dir), device);
    }

    /**
     * Loads a diffusers folder, or an original-layout single file with the configs of {@code --model_config} or
     * the shipped ones for its family; every tensor is checked against the config before any is read.
     */
    public static StableDiffusion load(ModelSource source, Device device) throws IOException {
        Path dir = source.model();
        if (source.singleFile()) source.requireUsable(true);
        else ModelDirectory.check(dir);
        NDManager manager = NDManager.newBaseManager(device);
        try (SafeTensorsSet file = source.singleFile() ? SafeTensorsSet.open(dir) : null) {
            ModelFamily family = file == null ? null : ModelFamily.detect(dir, file.names());
            Path configDir = source.configDir(family);
            NoiseSchedule schedule = new NoiseSchedule(SchedulerConfig.read(
                    configDir.resolve(ModelDirectory.SCHEDULER).resolve("scheduler_config.json")));
            ClipTokenizer tokenizer = ClipTokenizer.load(configDir.resolve(ModelDirectory.TOKENIZER));
            ClipTextConfig teConfig = ClipTextConfig.from(ModelDirectory.config(configDir, ModelDirectory.TEXT_ENCODER));
            ClipTextModel te = new ClipTextModel(teConfig);
            JsonNode unetJson = ModelDirectory.config(configDir, ModelDirectory.UNET);
            UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.from(unetJson));
            AutoencoderKL vae = new AutoencoderKL(VaeConfig.from(ModelDirectory.config(configDir, ModelDirectory.VAE)));
            if (file != null) {
                SingleFile.load(file, SingleFileLayout.of(family, unet, vae, te, SingleFileLayout.hasTextModelLevel(file.names())),
                        SingleFile.parameters(unet, vae, te), manager, "");
            } else {
                family = ModelFamily.fromConfigs(unetJson, teConfig);
                // position_ids is a non-persistent buffer in recent transformers; older checkpoints still carry it
                loadWeights(te, dir, ModelDirectory.TEXT_ENCODER, manager, k -> k.endsWith("embeddings.position_ids"));
                loadWeights(unet, dir, ModelDirectory.UNET, manager, k -> false);
                loadWeights(vae, dir, ModelDirectory.VAE, manager, k -> false);
            }
            return new StableDiffusion(dir, configDir, family, manager, tokenizer, te, unet, vae, schedule);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Loads only the VAE of a single file (its config from --model_config or the shipped one for the file's
     * family), owned by {@code manager}: what latent caching needs, without reading the UNet or text encoder.
     */
    public static AutoencoderKL loadSingleFileVae(ModelSource source, NDManager manager) throws IOException {
        source.requireUsable(false);
        try (SafeTensorsSet file = SafeTensorsSet.open(source.model())) {
            ModelFamily family = ModelFamily.detect(source.model(), file.names());
            Path configDir = source.configDir(family);
            ClipTextModel te = new ClipTextModel(ClipTextConfig.from(ModelDirectory.config(configDir, ModelDirectory.TEXT_ENCODER)));
            UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.from(ModelDirectory.config(configDir, ModelDirectory.UNET)));
            AutoencoderKL vae = new AutoencoderKL(VaeConfig.from(ModelDirectory.config(configDir, ModelDirectory.VAE)));
            SingleFile.load(file, SingleFileLayout.of(family, unet, vae, te, SingleFileLayout.hasTextModelLevel(file.names())),
                    SingleFile.parameters(unet, vae, te), manager, SingleFileLayout.VAE);
            return vae;
        }
    }

    static void loadWeights(Module module, Path dir, String component, NDManager manager,
                                    java.util.function.Predicate<String> ignorable) throws IOException {
        try (SafeTensorsSet weights = SafeTensorsSet.openModelWeights(dir.resolve(component), ModelDirectory.weightsBaseName(component))) {
            StateDict.load(module, weights, manager, ignorable);
        }
    }

    /** What --model named: the diffusers folder or the single file. */
    public Path directory() { return dir; }
    /** The family the model was recognised as; null for a folder whose configs describe none we know (SDXL-style). */
    public ModelFamily family() { return family; }
    public NDManager manager() { return manager; }
    public ClipTokenizer tokenizer() { return tokenizer; }
    public ClipTextModel textEncoder() { return textEncoder; }
    public UNet2DConditionModel unet() { return unet; }
    public AutoencoderKL vae() { return vae; }
    /** The training noise schedule (and, through it, the prediction type) from scheduler_config.json. */
    public NoiseSchedule schedule() { return schedule; }

    /** Training noise and sampling use {@code schedule} from now on (--zero_terminal_snr's rescaled one). */
    public void useSchedule(NoiseSchedule schedule) {
        this.schedule = schedule;
    }

    /** Token ids [B, max_length] for captions, padded and truncated as the tokenizer files say. */
    public NDArray tokenize(List<String> texts, NDManager m) {
        return tokenize(tokenizer, texts, m, manager.getDevice());
    }

    static NDArray tokenize(ClipTokenizer tokenizer, List<String> texts, NDManager m, Device device) {
        long[][] ids = tokenizer.encodeBatch(texts);
        long[] flat = new long[ids.length * ids[0].length];
        for (int i = 0; i < ids.length; i++) System.arraycopy(ids[i], 0, flat, i * ids[i].length, ids[i].length);
        return m.create(flat, new Shape(ids.length, ids[0].length)).toDevice(device, false);
    }

    /**
     * The UNet's conditioning for captions and sample prompts: the text encoder's last hidden state of 77 tokens,
     * or what {@link #usePromptEncoder} set (--clip_skip, --max_token_length).
     */
    public NDArray encodePrompts(List<String> texts, NDManager m) {
        return promptEncoder.encode(texts, m);
    }

    /** How captions and sample prompts become text states from now on (training and sampling alike). */
    public void usePromptEncoder(LongPromptEncoder encoder) {
        this.promptEncoder = encoder;
    }

    /**
     * Writes the model as a diffusers directory (configs, tokenizer and scheduler files as loaded, weights as
     * safetensors in {@code precision}), loadable by us and by diffusers. The directory is assembled beside
     * {@code out} and swapped in at the end, so an interrupted save never leaves a half-written model.
     */
    public void save(Path out, DType precision) throws IOException {
        Path parent = out.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = TempPaths.directory(parent, out.getFileName() + ".saving-");
        try {
            copyIfPresent(configDir.resolve("model_index.json"), tmp.resolve("model_index.json"));
            copyTree(configDir.resolve(ModelDirectory.TOKENIZER), tmp.resolve(ModelDirectory.TOKENIZER));
            copyTree(configDir.resolve(ModelDirectory.SCHEDULER), tmp.resolve(ModelDirectory.SCHEDULER));
            Map<String, Module> parts = Map.of(ModelDirectory.TEXT_ENCODER, textEncoder, ModelDirectory.UNET, unet,
                    ModelDirectory.VAE, vae);
            for (Map.Entry<String, Module> e : parts.entrySet()) {
                Path compDir = Files.createDirectories(tmp.resolve(e.getKey()));
                copyConfig(configDir.resolve(e.getKey()).resolve("config.json"), compDir.resolve("config.json"), precision);
                Map<String, TensorData> tensors = new LinkedHashMap<>();
                e.getValue().namedParameters().forEach((k, p) -> tensors.put(k, TensorData.fromNDArray(p.get())));
                SafeTensorsWriter.writeModel(compDir, ModelDirectory.weightsBaseName(e.getKey()), tensors,
                        Map.of("format", "pt"), precision, MAX_SHARD_BYTES);
            }
            Path old = null;
            if (Files.exists(out)) {
                carryOver(out, tmp);
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
     * Writes the model as one original-layout {@code .safetensors} file (what A1111, ComfyUI and kohya read), for
     * its family, atomically, floating tensors in {@code precision}; SD 2.x files get the unused final resblock.
     */
    public void saveSingleFile(Path file, DType precision) throws IOException {
        if (family == null) throw new IOException("this model's family has no single-file layout we can write; save it as a diffusers folder");
        SingleFile.save(file, SingleFileLayout.of(family, unet, vae, textEncoder, true),
                SingleFile.parameters(unet, vae, textEncoder), precision);
        LOG.info("saved {} model as single file {}", family, file);
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper CONFIG_JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    private static final long MAX_SHARD_BYTES = 10L << 30;
    private static final java.util.Set<String> OWNED = java.util.Set.of("model_index.json", ModelDirectory.UNET,
            ModelDirectory.VAE, ModelDirectory.TEXT_ENCODER, ModelDirectory.TOKENIZER, ModelDirectory.SCHEDULER);

    /**
     * Moves what a save does not own (training logs, metrics, reports) from the old directory into the new one,
     * so they survive the swap; files open for appending follow their inode.
     */
    private static void carryOver(Path old, Path fresh) throws IOException {
        try (Stream<Path> entries = Files.list(old)) {
            for (Path e : (Iterable<Path>) entries::iterator) {
                if (!OWNED.contains(e.getFileName().toString())) Files.move(e, fresh.resolve(e.getFileName()));
            }
        }
    }

    /**
     * A component's config with the dtype its weights were saved in: transformers configs carry {@code torch_dtype}
     * (read by {@code from_pretrained(torch_dtype="auto")}); diffusers' configs only when the base had one.
     */
    private static void copyConfig(Path from, Path to, DType precision) throws IOException {
        JsonNode config = CONFIG_JSON.readTree(from.toFile());
        if (config instanceof com.fasterxml.jackson.databind.node.ObjectNode o && (o.has("torch_dtype") || o.has("model_type"))) {
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

    @Override
    public void close() {
        manager.close();
    }
}
