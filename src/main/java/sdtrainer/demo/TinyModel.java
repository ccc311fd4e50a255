package sdtrainer.demo;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import sdtrainer.io.AtomicFiles;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.nn.Init;
import sdtrainer.nn.Module;
import sdtrainer.pipeline.ModelDirectory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a tiny, randomly initialised SD1.x-shaped model as a diffusers directory: the architecture of the
 * project's tiny test fixture (UNet and VAE with block_out_channels [32, 64], so the VAE downsamples by 2;
 * a 5-layer CLIP text encoder of width 32), SD1.5's noise schedule, and a tokenizer built from the demo's
 * captions ({@link BpeTokenizerFiles}). Weights follow torch's default initialisation ({@link Init}).
 * The directory loads with {@link sdtrainer.pipeline.StableDiffusion#load} and with diffusers'
 * {@code StableDiffusionPipeline.from_pretrained}.
 */
public final class TinyModel {
    /** Merges learned for the tokenizer: the demo's captions need far fewer. */
    static final int MAX_MERGES = 300;
    private static final ObjectMapper JSON = new ObjectMapper();

    private TinyModel() {}

    /** Writes the model into {@code dir} (created); returns what the tokenizer holds. */
    public static BpeTokenizerFiles.Built write(Path dir, List<String> captions, long seed) throws IOException {
        Files.createDirectories(dir);
        BpeTokenizerFiles.Built tokenizer = BpeTokenizerFiles.write(dir.resolve(ModelDirectory.TOKENIZER), captions, MAX_MERGES);
        writeJson(dir.resolve("model_index.json"), modelIndex());
        writeJson(dir.resolve(ModelDirectory.SCHEDULER).resolve("scheduler_config.json"), schedulerConfig());
        ObjectNode unetJson = unetConfig(), vaeJson = vaeConfig(), clipJson = textEncoderConfig(tokenizer);
        writeJson(dir.resolve(ModelDirectory.UNET).resolve("config.json"), unetJson);
        writeJson(dir.resolve(ModelDirectory.VAE).resolve("config.json"), vaeJson);
        writeJson(dir.resolve(ModelDirectory.TEXT_ENCODER).resolve("config.json"), clipJson);
        // each component from its own seed, so changing one architecture leaves the others' weights alone
        writeWeights(dir, ModelDirectory.UNET, new UNet2DConditionModel(UNetConfig.from(unetJson)), seed);
        writeWeights(dir, ModelDirectory.VAE, new AutoencoderKL(VaeConfig.from(vaeJson)), seed + 1);
        writeWeights(dir, ModelDirectory.TEXT_ENCODER, new ClipTextModel(ClipTextConfig.from(clipJson)), seed + 2);
        return tokenizer;
    }

    /** Writes {@code module}, initialised as torch does from {@code seed}, as the weights of {@code dir/component}. */
    public static void writeWeights(Path dir, String component, Module module, long seed) throws IOException {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            Init.torchDefault(module, manager, seed);
            Map<String, NDArray> arrays = new LinkedHashMap<>();
            module.namedParameters().forEach((k, p) -> arrays.put(k, p.get()));
            SafeTensorsWriter.writeArrays(dir.resolve(component).resolve(ModelDirectory.weightsBaseName(component) + ".safetensors"),
                    arrays, Map.of("format", "pt"), DType.F32);
        }
    }

    static ObjectNode unetConfig() {
        ObjectNode c = JSON.createObjectNode().put("_class_name", "UNet2DConditionModel")
                .put("act_fn", "silu")
                .put("attention_head_dim", 8)
                .put("center_input_sample", false)
                .put("conv_in_kernel", 3)
                .put("conv_out_kernel", 3)
                .put("cross_attention_dim", 32)
                .put("downsample_padding", 1)
                .put("flip_sin_to_cos", true)
                .put("freq_shift", 0)
                .put("in_channels", 4)
                .put("layers_per_block", 2)
                .put("mid_block_scale_factor", 1)
                .put("mid_block_type", "UNetMidBlock2DCrossAttn")
                .put("norm_eps", 1e-5)
                .put("norm_num_groups", 32)
                .put("out_channels", 4)
                .put("sample_size", 32)
                .put("transformer_layers_per_block", 1)
                .put("upcast_attention", false)
                .put("use_linear_projection", false);
        ints(c.putArray("block_out_channels"), 32, 64);
        c.putArray("down_block_types").add("CrossAttnDownBlock2D").add("DownBlock2D");
        c.putArray("up_block_types").add("UpBlock2D").add("CrossAttnUpBlock2D");
        return c;
    }

    static ObjectNode vaeConfig() {
        ObjectNode c = JSON.createObjectNode().put("_class_name", "AutoencoderKL")
                .put("act_fn", "silu")
                .put("in_channels", 3)
                .put("latent_channels", 4)
                .put("layers_per_block", 2)
                .put("norm_num_groups", 32)
                .put("out_channels", 3)
                .put("sample_size", 64)
                .put("scaling_factor", 0.18215);
        ints(c.putArray("block_out_channels"), 32, 64);
        c.putArray("down_block_types").add("DownEncoderBlock2D").add("DownEncoderBlock2D");
        c.putArray("up_block_types").add("UpDecoderBlock2D").add("UpDecoderBlock2D");
        return c;
    }

    /** CLIPTextModel of the fixture's width and depth; vocabulary and special ids are those of the built tokenizer. */
    static ObjectNode textEncoderConfig(BpeTokenizerFiles.Built tokenizer) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("CLIPTextModel");
        return c.put("model_type", "clip_text_model")
                .put("attention_dropout", 0.0)
                .put("bos_token_id", tokenizer.bosId())
                .put("dropout", 0.0)
                .put("eos_token_id", tokenizer.eosId())
                .put("hidden_act", "quick_gelu")
                .put("hidden_size", 32)
                .put("initializer_factor", 1.0)
                .put("initializer_range", 0.02)
                .put("intermediate_size", 37)
                .put("layer_norm_eps", 1e-5)
                .put("max_position_embeddings", BpeTokenizerFiles.MODEL_MAX_LENGTH)
                .put("num_attention_heads", 4)
                .put("num_hidden_layers", 5)
                .put("pad_token_id", tokenizer.eosId())
                .put("projection_dim", 32)
                .put("torch_dtype", "float32")
                .put("vocab_size", tokenizer.vocabSize());
    }

    /** SD1.5's schedule: scaled_linear betas 0.00085-0.012 over 1000 steps, epsilon prediction. */
    static ObjectNode schedulerConfig() {
        return JSON.createObjectNode().put("_class_name", "PNDMScheduler")
                .put("beta_end", 0.012)
                .put("beta_schedule", "scaled_linear")
                .put("beta_start", 0.00085)
                .put("clip_sample", false)
                .put("num_train_timesteps", 1000)
                .put("prediction_type", "epsilon")
                .put("set_alpha_to_one", false)
                .put("skip_prk_steps", true)
                .put("steps_offset", 1);
    }

    static ObjectNode modelIndex() {
        ObjectNode c = JSON.createObjectNode().put("_class_name", "StableDiffusionPipeline")
                .put("requires_safety_checker", false);
        c.putArray("feature_extractor").addNull().addNull();
        c.putArray("safety_checker").addNull().addNull();
        c.putArray("scheduler").add("diffusers").add("PNDMScheduler");
        c.putArray("text_encoder").add("transformers").add("CLIPTextModel");
        c.putArray("tokenizer").add("transformers").add("CLIPTokenizer");
        c.putArray("unet").add("diffusers").add("UNet2DConditionModel");
        c.putArray("vae").add("diffusers").add("AutoencoderKL");
        return c;
    }

    private static void ints(ArrayNode array, int... values) {
        for (int v : values) array.add(v);
    }

    private static void writeJson(Path file, ObjectNode node) throws IOException {
        Files.createDirectories(file.getParent());
        AtomicFiles.writeBytes(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node));
    }
}
