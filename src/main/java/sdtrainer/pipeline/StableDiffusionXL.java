package sdtrainer.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.diffusion.SchedulerConfig;
import sdtrainer.io.DType;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.pipeline.format.SingleFile;
import sdtrainer.pipeline.format.SingleFileLayout;
import sdtrainer.pipeline.format.ModelFamily;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.LongPromptEncoder;
import sdtrainer.model.clip.ClipTextModelWithProjection;
import sdtrainer.model.clip.ClipTokenizer;
import sdtrainer.model.unet.AddedConditions;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.nn.Module;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An SDXL model loaded from a diffusers directory (two tokenizers and text encoders, a text_time UNet);
 * owns its parameters' memory. Conditioning follows diffusers' StableDiffusionXLPipeline.encode_prompt.
 */
public final class StableDiffusionXL implements DiffusionModel {

    /**
     * What the UNet is conditioned on: {@code context} [B, L, D1 + D2] = both encoders' penultimate hidden states
     * side by side, {@code pooled} [B, P] = the second encoder's projected pooled output (text_embeds).
     */
    public record TextConditioning(NDArray context, NDArray pooled) {
        /** The UNet's added conditions for these texts and size ids [B, 6]. */
        public AddedConditions with(NDArray timeIds) {
            return new AddedConditions(pooled, timeIds);
        }

        /** This batch followed by {@code other}'s (the [uncond, cond] batch of guidance). */
        public TextConditioning concat(TextConditioning other) {
            return new TextConditioning(context.concat(other.context, 0), pooled.concat(other.pooled, 0));
        }
    }

    /**
     * One image's size conditioning in pixels as diffusers' {@code _get_add_time_ids} and kohya order it:
     * original size, crop top-left, target size.
     */
    public record SizeIds(int originalHeight, int originalWidth, int cropTop, int cropLeft, int targetHeight,
                          int targetWidth) {
        /** An uncropped image generated (or trained) at its own size. */
        public static SizeIds uncropped(int height, int width) {
            return new SizeIds(height, width, 0, 0, height, width);
        }

        float[] row() {
            return new float[] {originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth};
        }

        /** time_ids [rows, 6] in float32, one row per entry. */
        public static NDArray batch(List<SizeIds> ids, NDManager m) {
            float[] flat = new float[ids.size() * 6];
            for (int i = 0; i < ids.size(); i++) System.arraycopy(ids.get(i).row(), 0, flat, i * 6, 6);
            return m.create(flat, new Shape(ids.size(), 6));
        }
    }

    private final Path dir, configDir;
    private final NDManager manager;
    private final ClipTokenizer tokenizer, tokenizer2;
    private final ClipTextModel textEncoder;
    private final ClipTextModelWithProjection textEncoder2;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private NoiseSchedule schedule;
    private final boolean forceZerosForEmptyPrompt;
    private final boolean vaeForceUpcast;

    private StableDiffusionXL(Path dir, Path configDir, NDManager manager, ClipTokenizer tokenizer, ClipTokenizer tokenizer2,
                              ClipTextModel textEncoder, ClipTextModelWithProjection textEncoder2,
                              UNet2DConditionModel unet, AutoencoderKL vae, NoiseSchedule schedule,
                              boolean forceZerosForEmptyPrompt, boolean vaeForceUpcast) {
        this.dir = dir;
        this.configDir = configDir;
        this.manager = manager;
        this.tokenizer = tokenizer;
        this.tokenizer2 = tokenizer2;
        this.textEncoder = textEncoder;
        this.textEncoder2 = textEncoder2;
        this.unet = unet;
        this.vae = vae;
        this.schedule = schedule;
        this.forceZerosForEmptyPrompt = forceZerosForEmptyPrompt;
        this.vaeForceUpcast = vaeForceUpcast;
    }

    public static StableDiffusionXL load(Path dir, Device device) throws IOException {
        return load(ModelSource.of(dir), device);
    }

    /**
     * Loads an SDXL diffusers folder, or an SGM-layout single file with the configs of {@code --model_config} or
     * the shipped SDXL base ones; a single file's tensors are all checked against the configs before any is read.
     */
    public static StableDiffusionXL load(ModelSource source, Device device) throws IOException {
        if (!source.singleFile()) return load(source.model(), source.model(), null, device);
        source.requireUsable(true);
        try (SafeTensorsSet file = SafeTensorsSet.open(source.model())) {
            ModelFamily family = ModelFamily.detect(source.model(), file.names());
            if (family != ModelFamily.SDXL) throw new IOException(source.model() + ": a " + family + " single file, not SDXL");
            return load(source.model(), source.configDir(family), file, device);
        }
    }

    /** The model of {@code dir} (a folder, or the single {@code file} whose configs are in {@code configDir}). */
    private static StableDiffusionXL load(Path dir, Path configDir, SafeTensorsSet file, Device device) throws IOException {
        Path modelDir = dir;
        dir = configDir;
        ModelDirectory.check(dir);
        for (String c : new String[] {ModelDirectory.TEXT_ENCODER_2, ModelDirectory.TOKENIZER_2}) {
            if (!Files.isDirectory(dir.resolve(c))) throw new IOException(dir + ": not an SDXL diffusers directory, missing " + c + "/");
        }
        JsonNode te2Json = ModelDirectory.config(dir, ModelDirectory.TEXT_ENCODER_2);
        if (!te2Json.path("architectures").toString().contains(ClipTextModelWithProjection.ARCHITECTURE)) {
            throw new IOException(dir.resolve(ModelDirectory.TEXT_ENCODER_2).resolve("config.json") + ": architectures "
                    + te2Json.path("architectures") + " is not " + ClipTextModelWithProjection.ARCHITECTURE);
        }
        UNetConfig unetConfig = UNetConfig.from(ModelDirectory.config(dir, ModelDirectory.UNET));
        if (!unetConfig.textTimeConditioning()) {
            throw new IOException(dir.resolve(ModelDirectory.UNET).resolve("config.json")
                    + ": an SDXL UNet needs addition_embed_type \"text_time\"");
        }
        // diffusers' StableDiffusionXLPipeline registers force_zeros_for_empty_prompt=True unless model_index says otherwise
        Path index = dir.resolve("model_index.json");
        boolean forceZeros = !Files.isRegularFile(index)
                || ModelDirectory.readJson(index).path("force_zeros_for_empty_prompt").asBoolean(true);
        NDManager manager = NDManager.newBaseManager(device);
        try {
            NoiseSchedule schedule = new NoiseSchedule(SchedulerConfig.read(
                    dir.resolve(ModelDirectory.SCHEDULER).resolve("scheduler_config.json")));
            ClipTokenizer tok1 = ClipTokenizer.load(dir.resolve(ModelDirectory.TOKENIZER));
            ClipTokenizer tok2 = ClipTokenizer.load(dir.resolve(ModelDirectory.TOKENIZER_2));
            ClipTextModel te1 = new ClipTextModel(ClipTextConfig.from(ModelDirectory.config(dir, ModelDirectory.TEXT_ENCODER)));
            ClipTextModelWithProjection te2 = new ClipTextModelWithProjection(ClipTextConfig.from(te2Json));
            UNet2DConditionModel unet = new UNet2DConditionModel(unetConfig);
            JsonNode vaeJson = ModelDirectory.config(dir, ModelDirectory.VAE);
            AutoencoderKL vae = new AutoencoderKL(VaeConfig.from(vaeJson));
            if (file != null) {
                SingleFile.load(file, SingleFileLayout.ofSdxl(unet, vae, te1, te2), SingleFile.parameters(unet, vae, te1, te2),
                        manager, "");
            } else {
                StableDiffusion.loadWeights(te1, dir, ModelDirectory.TEXT_ENCODER, manager, k -> k.endsWith("embeddings.position_ids"));
                StableDiffusion.loadWeights(te2, dir, ModelDirectory.TEXT_ENCODER_2, manager, k -> k.endsWith("embeddings.position_ids"));
                StableDiffusion.loadWeights(unet, dir, ModelDirectory.UNET, manager, k -> false);
                StableDiffusion.loadWeights(vae, dir, ModelDirectory.VAE, manager, k -> false);
            }
            // diffusers' AutoencoderKL defaults force_upcast to true; the SDXL pipeline decodes in float32 then
            return new StableDiffusionXL(modelDir, dir, manager, tok1, tok2, te1, te2, unet, vae, schedule, forceZeros,
                    vaeJson.path("force_upcast").asBoolean(true));
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    @Override public Path directory() { return dir; }
    @Override public NDManager manager() { return manager; }
    public ClipTokenizer tokenizer() { return tokenizer; }
    public ClipTokenizer tokenizer2() { return tokenizer2; }
    public ClipTextModel textEncoder() { return textEncoder; }
    public ClipTextModelWithProjection textEncoder2() { return textEncoder2; }
    @Override public UNet2DConditionModel unet() { return unet; }
    @Override public AutoencoderKL vae() { return vae; }
    @Override public NoiseSchedule schedule() { return schedule; }
    @Override public boolean vaeNeedsFloat32() { return vaeForceUpcast; }

    @Override
    public Map<String, ClipTextModel> textEncoders() {
        Map<String, ClipTextModel> out = new LinkedHashMap<>();
        out.put(ModelDirectory.TEXT_ENCODER, textEncoder);
        out.put(ModelDirectory.TEXT_ENCODER_2, textEncoder2);
        return out;
    }

    @Override
    public void useSchedule(NoiseSchedule schedule) {
        this.schedule = schedule;
    }

    /** SDXL's pipeline for a training sample: both encoders, an uncropped image of the requested size. */
    @Override
    public NDArray generate(TextToImage.Request r, NDManager m) {
        return SdxlTextToImage.generate(this, new SdxlTextToImage.Request(r.prompts(), r.negativePrompt(), r.width(),
                r.height(), r.steps(), r.guidance(), r.seed(), r.sampler(), null), m);
    }

    /** Every component, tokenizer and config of the SDXL layout, as loaded, the weights in {@code precision}. */
    @Override
    public void save(Path out, DType precision) throws IOException {
        Map<String, Module> parts = new LinkedHashMap<>(textEncoders());
        parts.put(ModelDirectory.UNET, unet);
        parts.put(ModelDirectory.VAE, vae);
        DiffusersFolder.save(out, configDir, parts, List.of(ModelDirectory.TOKENIZER, ModelDirectory.TOKENIZER_2,
                ModelDirectory.SCHEDULER), precision);
    }

    @Override
    public void saveSingleFile(Path file, DType precision) throws IOException {
        SingleFile.save(file, SingleFileLayout.ofSdxl(unet, vae, textEncoder, textEncoder2),
                SingleFile.parameters(unet, vae, textEncoder, textEncoder2), precision);
    }
    private int maxTokenLength;

    /** model_index.json's force_zeros_for_empty_prompt: no negative prompt means zero negative conditioning. */
    public boolean forceZerosForEmptyPrompt() { return forceZerosForEmptyPrompt; }

    /** Token ids [B, max_length] of both tokenizers (they differ in padding: SDXL's second pads with "!"). */
    public NDArray[] tokenize(List<String> texts, NDManager m) {
        return new NDArray[] {StableDiffusion.tokenize(tokenizer, texts, m, manager.getDevice()),
                StableDiffusion.tokenize(tokenizer2, texts, m, manager.getDevice())};
    }

    /** Both encoders' hidden_states[-2] (no final layer norm) concatenated, and te2's text_embeds. */
    public TextConditioning encode(NDArray ids1, NDArray ids2) {
        List<NDArray> h1 = textEncoder.forward(ids1).hiddenStates();
        ClipTextModel.Output o2 = textEncoder2.forward(ids2);
        List<NDArray> h2 = o2.hiddenStates();
        NDArray context = h1.get(h1.size() - 2).concat(h2.get(h2.size() - 2), 2);
        return new TextConditioning(context, textEncoder2.textEmbeds(o2));
    }

    public TextConditioning encodePrompts(List<String> texts, NDManager m) {
        if (maxTokenLength == 0) {
            NDArray[] ids = tokenize(texts, m);
            return encode(ids[0], ids[1]);
        }
        // kohya's get_hidden_states_sdxl: every 75-token chunk through both encoders, states joined as for SD,
        // the pooled output of each prompt's first chunk
        LongPromptEncoder e1 = new LongPromptEncoder(tokenizer, textEncoder, maxTokenLength, 1);
        LongPromptEncoder e2 = new LongPromptEncoder(tokenizer2, textEncoder2, maxTokenLength, 1);
        int b = texts.size(), n = e1.chunks();
        TextConditioning chunked = encode(e1.ids(texts, m).toDevice(manager.getDevice(), false),
                e2.ids(texts, m).toDevice(manager.getDevice(), false));
        // both encoders' states sit side by side per token, so one join serves both
        NDArray context = LongPromptEncoder.join(chunked.context(), b, n, tokenizer.maxLength());
        NDArray pooled = chunked.pooled().reshape(b, n, -1).get(new NDIndex(":, 0"));
        return new TextConditioning(context, pooled);
    }

    /**
     * {@code --max_token_length}: prompts of up to {@code tokens} (150 or 225) content tokens in 75-token chunks;
     * 0 or 75 keeps the plain 77-token path.
     */
    public void useMaxTokenLength(int tokens) {
        this.maxTokenLength = tokens == tokenizer.maxLength() - 2 ? 0 : tokens;
    }

    /**
     * The negative conditioning of encode_prompt for {@code batch} prompts like {@code cond}: zeros when no
     * negative prompt is given ({@code negative} null) and force_zeros_for_empty_prompt is set; otherwise the
     * encoding of {@code negative} (or of "" when null), an explicit "" included.
     */
    public TextConditioning encodeNegative(List<String> negative, TextConditioning cond, NDManager m) {
        if (negative == null && forceZerosForEmptyPrompt) {
            return new TextConditioning(cond.context().zerosLike(), cond.pooled().zerosLike());
        }
        int b = (int) cond.context().getShape().get(0);
        return encodePrompts(negative == null ? java.util.Collections.nCopies(b, "") : negative, m);
    }

    @Override
    public void close() {
        manager.close();
    }
}
