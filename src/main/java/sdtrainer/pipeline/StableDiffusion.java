package sdtrainer.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTokenizer;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.ClipTextModelWithProjection;
import sdtrainer.model.clip.LongPromptEncoder;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.diffusion.SchedulerConfig;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.nn.Module;
import sdtrainer.nn.StateDict;
import sdtrainer.pipeline.format.ModelFamily;
import sdtrainer.pipeline.format.SingleFile;
import sdtrainer.pipeline.format.SingleFileLayout;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;

/** A Stable Diffusion 1.x / 2.x model loaded from a diffusers directory or a single file; owns its parameters' memory. */
public final class StableDiffusion implements DiffusionModel {
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
            if (family == ModelFamily.SDXL) throw new IOException(dir + ": an SDXL single file; it loads as StableDiffusionXL");
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
            if (family == ModelFamily.SDXL) {
                ClipTextModelWithProjection te2 = new ClipTextModelWithProjection(
                        ClipTextConfig.from(ModelDirectory.config(configDir, ModelDirectory.TEXT_ENCODER_2)));
                SingleFile.load(file, SingleFileLayout.ofSdxl(unet, vae, te, te2), SingleFile.parameters(unet, vae, te, te2),
                        manager, SingleFileLayout.VAE);
            } else {
                SingleFile.load(file, SingleFileLayout.of(family, unet, vae, te, SingleFileLayout.hasTextModelLevel(file.names())),
                        SingleFile.parameters(unet, vae, te), manager, SingleFileLayout.VAE);
            }
            return vae;
        }
    }

    static void loadWeights(Module module, Path dir, String component, NDManager manager,
                                    java.util.function.Predicate<String> ignorable) throws IOException {
        try (SafeTensorsSet weights = SafeTensorsSet.openModelWeights(dir.resolve(component), ModelDirectory.weightsBaseName(component))) {
            StateDict.load(module, weights, manager, ignorable);
        }
    }

    @Override public Path directory() { return dir; }
    /** The family the model was recognised as; null for a folder whose configs describe none we know (SDXL-style). */
    public ModelFamily family() { return family; }
    @Override public NDManager manager() { return manager; }
    public ClipTokenizer tokenizer() { return tokenizer; }
    public ClipTextModel textEncoder() { return textEncoder; }
    @Override public Map<String, ClipTextModel> textEncoders() { return Map.of(ModelDirectory.TEXT_ENCODER, textEncoder); }
    @Override public UNet2DConditionModel unet() { return unet; }
    @Override public AutoencoderKL vae() { return vae; }
    @Override public NoiseSchedule schedule() { return schedule; }

    @Override
    public void useSchedule(NoiseSchedule schedule) {
        this.schedule = schedule;
    }

    @Override
    public NDArray generate(TextToImage.Request request, NDManager m) {
        return TextToImage.generate(this, request, m);
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

    @Override
    public void save(Path out, DType precision) throws IOException {
        Map<String, Module> parts = new LinkedHashMap<>();
        parts.put(ModelDirectory.TEXT_ENCODER, textEncoder);
        parts.put(ModelDirectory.UNET, unet);
        parts.put(ModelDirectory.VAE, vae);
        DiffusersFolder.save(out, configDir, parts, List.of(ModelDirectory.TOKENIZER, ModelDirectory.SCHEDULER), precision);
    }

    /**
     * Writes the model as one original-layout {@code .safetensors} file (what A1111, ComfyUI and kohya read), for
     * its family, atomically, floating tensors in {@code precision}; SD 2.x files get the unused final resblock.
     */
    @Override
    public void saveSingleFile(Path file, DType precision) throws IOException {
        if (family == null) throw new IOException("this model's family has no single-file layout we can write; save it as a diffusers folder");
        SingleFile.save(file, SingleFileLayout.of(family, unet, vae, textEncoder, true),
                SingleFile.parameters(unet, vae, textEncoder), precision);
        LOG.info("saved {} model as single file {}", family, file);
    }

    @Override
    public void close() {
        manager.close();
    }
}
