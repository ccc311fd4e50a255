package sdtrainer.pipeline.format;

import ai.djl.ndarray.types.Shape;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.ClipTextModelWithProjection;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.nn.Module;
import sdtrainer.nn.Parameter;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The original (CompVis/ldm) single-file layout of a model, as data: one {@link Entry} per file tensor naming
 * the diffusers parameters it holds. The loader and the saver both walk these entries, so they cannot disagree.
 * The tables follow diffusers' {@code convert_diffusers_to_original_stable_diffusion.py}, with block indices
 * read from the configs instead of fixed for SD's four blocks.
 */
public final class SingleFileLayout {

    /** How a file tensor relates to its parameters. */
    public enum Kind {
        /** the parameter as it is */
        SAME,
        /** a Linear weight stored as a 1x1 conv weight [O, I, 1, 1] (the VAE's mid-block attention) */
        CONV_1X1,
        /** several parameters concatenated along dim 0 (OpenCLIP's in_proj = q, k, v) */
        CONCAT,
        /** a Linear weight stored transposed (OpenCLIP's text_projection, applied as x @ P) */
        TRANSPOSE
    }

    /**
     * One tensor of the file. {@code modelKeys} are full in-memory names ({@code unet.}, {@code vae.},
     * {@code text_encoder.} + the component's state-dict key); {@code saveOnly} entries are written for other
     * tools but not read back (SD 2.x's unused final resblock, a copy of the last one).
     */
    public record Entry(String fileKey, List<String> modelKeys, Kind kind, Shape fileShape, boolean saveOnly) {}

    public static final String UNET = "unet.", VAE = "vae.", TEXT_ENCODER = "text_encoder.", TEXT_ENCODER_2 = "text_encoder_2.";

    /** What real files carry besides the weights: the ldm noise-schedule buffers and the EMA counters. */
    private static final Set<String> SCHEDULE_BUFFERS = Set.of("betas", "alphas_cumprod", "alphas_cumprod_prev",
            "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
            "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
            "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2");

    private final ModelFamily family;
    private final List<Entry> entries;
    private final String textPrefix;
    private final int textLayers;

    private SingleFileLayout(ModelFamily family, List<Entry> entries, String textPrefix, int textLayers) {
        this.family = family;
        this.entries = Collections.unmodifiableList(entries);
        this.textPrefix = textPrefix;
        this.textLayers = textLayers;
    }

    /**
     * The layout of these modules for {@code family}. {@code sd1TextModel}: whether SD 1.x text-encoder keys
     * keep transformers' {@code text_model.} level (current files) or omit it (files from transformers < 4.19);
     * saving always writes it.
     */
    public static SingleFileLayout of(ModelFamily family, UNet2DConditionModel unet, AutoencoderKL vae, ClipTextModel te,
                                      boolean sd1TextModel) {
        List<Entry> entries = new ArrayList<>();
        add(entries, UNET, unet, ModelFamily.UNET_PREFIX, unetTable(unet.config));
        add(entries, VAE, vae, ModelFamily.VAE_PREFIX, vaeTable(vae.config.blockOutChannels().size(), vae.config.layersPerBlock()));
        int layers = te.config.numHiddenLayers();
        String textPrefix;
        if (family == ModelFamily.SD2) {
            textPrefix = ModelFamily.SD2_TEXT_PREFIX;
            add(entries, TEXT_ENCODER, te, textPrefix, openClipTable(layers));
            // A real SD 2.x file holds one resblock more (SD 2.x conditions on the penultimate one): write the last
            // layer again so other tools load the file, as kohya does.
            String last = textPrefix + "transformer.resblocks." + (layers - 1) + ".";
            for (Entry e : List.copyOf(entries)) {
                if (e.fileKey().startsWith(last)) {
                    String copy = textPrefix + "transformer.resblocks." + layers + "." + e.fileKey().substring(last.length());
                    entries.add(new Entry(copy, e.modelKeys(), e.kind(), e.fileShape(), true));
                }
            }
        } else {
            textPrefix = ModelFamily.SD1_TEXT_PREFIX;
            add(entries, TEXT_ENCODER, te, textPrefix, List.of(new Rename("text_model.", sd1TextModel ? "text_model." : "")));
        }
        return new SingleFileLayout(family, entries, textPrefix, layers);
    }

    /**
     * SDXL base's SGM layout: the UNet as SD's (plus {@code label_emb} for the added conditioning), the VAE as SD's,
     * text encoder 1 with transformers' names under {@code conditioner.embedders.0.transformer.}, text encoder 2 in
     * OpenCLIP's names under {@code conditioner.embedders.1.model.} with its projection stored transposed.
     */
    public static SingleFileLayout ofSdxl(UNet2DConditionModel unet, AutoencoderKL vae, ClipTextModel te1,
                                          ClipTextModelWithProjection te2) {
        List<Entry> entries = new ArrayList<>();
        List<Rename> unetTable = unetTable(unet.config);
        unetTable.add(new Rename("add_embedding.linear_1.", "label_emb.0.0."));
        unetTable.add(new Rename("add_embedding.linear_2.", "label_emb.0.2."));
        add(entries, UNET, unet, ModelFamily.UNET_PREFIX, unetTable);
        add(entries, VAE, vae, ModelFamily.VAE_PREFIX, vaeTable(vae.config.blockOutChannels().size(), vae.config.layersPerBlock()));
        add(entries, TEXT_ENCODER, te1, ModelFamily.SDXL_TEXT1_PREFIX, List.of());
        List<Rename> openClip = openClipTable(te2.config.numHiddenLayers());
        openClip.add(new Rename("text_projection.weight", "text_projection"));
        add(entries, TEXT_ENCODER_2, te2, ModelFamily.SDXL_TEXT2_PREFIX, openClip);
        return new SingleFileLayout(ModelFamily.SDXL, entries, ModelFamily.SDXL_TEXT2_PREFIX, te2.config.numHiddenLayers());
    }

    /** Whether SD 1.x text-encoder keys of this file keep transformers' {@code text_model.} level. */
    public static boolean hasTextModelLevel(Set<String> fileKeys) {
        for (String k : fileKeys) {
            if (k.startsWith(ModelFamily.SD1_TEXT_PREFIX)) return k.startsWith(ModelFamily.SD1_TEXT_PREFIX + "text_model.");
        }
        return true;
    }

    public ModelFamily family() { return family; }

    public List<Entry> entries() { return entries; }

    /**
     * Tensors real files carry that the model does not use: the noise-schedule buffers, {@code model_ema.*},
     * {@code position_ids} (I64 or F32), OpenCLIP's {@code text_projection} and {@code logit_scale}, and SD 2.x's
     * extra final resblock.
     */
    public boolean isKnownExtra(String key) {
        if (SCHEDULE_BUFFERS.contains(key) || key.startsWith("model_ema.")) return true;
        if (family == ModelFamily.SDXL && key.startsWith(ModelFamily.SDXL_TEXT1_PREFIX)) {
            return key.endsWith("embeddings.position_ids");
        }
        if (!key.startsWith(textPrefix)) return false;
        String rest = key.substring(textPrefix.length());
        // SDXL's second encoder uses its projection (text_embeds); SD 2.x's is unused
        boolean projectionUsed = family == ModelFamily.SDXL;
        return rest.endsWith("embeddings.position_ids") || (!projectionUsed && rest.equals("text_projection")) || rest.equals("logit_scale")
                || (family == ModelFamily.SD2 && rest.startsWith("transformer.resblocks." + textLayers + "."));
    }

    /** A rename of a diffusers key prefix to a file key prefix, with renames of what follows it (a block's inner names). */
    private record Rename(String model, String file, List<String[]> inner) {
        Rename(String model, String file) {
            this(model, file, List.of());
        }

        String apply(String key) {
            String rest = key.substring(model.length());
            for (String[] in : inner) {
                if (rest.startsWith(in[0])) return file + in[1] + rest.substring(in[0].length());
            }
            return file + rest;
        }
    }

    private static void add(List<Entry> entries, String part, Module module, String filePrefix, List<Rename> table) {
        Map<String, Parameter> params = module.namedParameters();
        for (Map.Entry<String, Parameter> p : params.entrySet()) {
            String key = p.getKey();
            Shape shape = p.getValue().shape();
            boolean openClip = filePrefix.equals(ModelFamily.SD2_TEXT_PREFIX) || filePrefix.equals(ModelFamily.SDXL_TEXT2_PREFIX);
            if (openClip && (key.contains(".self_attn.k_proj.") || key.contains(".self_attn.v_proj."))) {
                continue; // written with q_proj as in_proj
            }
            Rename r = find(table, key);
            String fileKey = filePrefix + (r == null ? key : r.apply(key));
            if (openClip && key.equals("text_projection.weight")) {
                entries.add(new Entry(fileKey, List.of(part + key), Kind.TRANSPOSE, new Shape(shape.get(1), shape.get(0)), false));
            } else if (openClip && key.contains(".self_attn.q_proj.")) {
                List<String> qkv = new ArrayList<>();
                long rows = 0;
                for (String x : new String[] {"q_proj", "k_proj", "v_proj"}) {
                    String k = key.replace(".self_attn.q_proj.", ".self_attn." + x + ".");
                    qkv.add(part + k);
                    rows += params.get(k).shape().get(0);
                }
                long[] s = shape.getShape().clone();
                s[0] = rows;
                entries.add(new Entry(fileKey, qkv, Kind.CONCAT, new Shape(s), false));
            } else if (fileKey.matches(".*\\.attn_1\\.(q|k|v|proj_out)\\.weight") && shape.dimension() == 2) {
                entries.add(new Entry(fileKey, List.of(part + key), Kind.CONV_1X1, new Shape(shape.get(0), shape.get(1), 1, 1), false));
            } else {
                entries.add(new Entry(fileKey, List.of(part + key), Kind.SAME, shape, false));
            }
        }
    }

    /** The longest prefix rename that applies; null keeps the key as it is (names both layouts share). */
    private static Rename find(List<Rename> table, String key) {
        Rename best = null;
        for (Rename r : table) {
            if (key.startsWith(r.model()) && (best == null || r.model().length() > best.model().length())) best = r;
        }
        return best;
    }

    private static final List<String[]> UNET_RESNET = List.of(new String[] {"norm1.", "in_layers.0."},
            new String[] {"conv1.", "in_layers.2."}, new String[] {"time_emb_proj.", "emb_layers.1."},
            new String[] {"norm2.", "out_layers.0."}, new String[] {"conv2.", "out_layers.3."},
            new String[] {"conv_shortcut.", "skip_connection."});

    private static List<Rename> unetTable(UNetConfig c) {
        List<Rename> t = new ArrayList<>(List.of(new Rename("conv_in.", "input_blocks.0.0."),
                new Rename("time_embedding.linear_1.", "time_embed.0."), new Rename("time_embedding.linear_2.", "time_embed.2."),
                new Rename("conv_norm_out.", "out.0."), new Rename("conv_out.", "out.2.")));
        int n = c.blockOutChannels().size(), per = c.layersPerBlock() + 1;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < c.layersPerBlock(); j++) {
                int idx = 1 + i * per + j;
                t.add(new Rename("down_blocks." + i + ".resnets." + j + ".", "input_blocks." + idx + ".0.", UNET_RESNET));
                t.add(new Rename("down_blocks." + i + ".attentions." + j + ".", "input_blocks." + idx + ".1."));
            }
            if (i < n - 1) t.add(new Rename("down_blocks." + i + ".downsamplers.0.conv.", "input_blocks." + (i + 1) * per + ".0.op."));
        }
        t.add(new Rename("mid_block.resnets.0.", "middle_block.0.", UNET_RESNET));
        t.add(new Rename("mid_block.attentions.0.", "middle_block.1."));
        t.add(new Rename("mid_block.resnets.1.", "middle_block.2.", UNET_RESNET));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < per; j++) {
                int idx = i * per + j;
                t.add(new Rename("up_blocks." + i + ".resnets." + j + ".", "output_blocks." + idx + ".0.", UNET_RESNET));
                t.add(new Rename("up_blocks." + i + ".attentions." + j + ".", "output_blocks." + idx + ".1."));
            }
            // the upsampler follows the last resnet, and its attention when the block has them
            boolean attn = c.upBlockTypes().get(i).startsWith("CrossAttn");
            if (i < n - 1) t.add(new Rename("up_blocks." + i + ".upsamplers.0.", "output_blocks." + (i * per + per - 1) + "." + (attn ? 2 : 1) + "."));
        }
        return t;
    }

    private static final List<String[]> VAE_RESNET = List.<String[]>of(new String[] {"conv_shortcut.", "nin_shortcut."});
    private static final List<String[]> VAE_ATTENTION = List.of(new String[] {"group_norm.", "norm."},
            new String[] {"to_q.", "q."}, new String[] {"to_k.", "k."}, new String[] {"to_v.", "v."},
            new String[] {"to_out.0.", "proj_out."});

    private static List<Rename> vaeTable(int n, int layersPerBlock) {
        List<Rename> t = new ArrayList<>();
        for (String part : new String[] {"encoder.", "decoder."}) {
            t.add(new Rename(part + "conv_norm_out.", part + "norm_out."));
            t.add(new Rename(part + "mid_block.attentions.0.", part + "mid.attn_1.", VAE_ATTENTION));
            for (int j = 0; j < 2; j++) t.add(new Rename(part + "mid_block.resnets." + j + ".", part + "mid.block_" + (j + 1) + ".", VAE_RESNET));
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < layersPerBlock; j++) {
                t.add(new Rename("encoder.down_blocks." + i + ".resnets." + j + ".", "encoder.down." + i + ".block." + j + ".", VAE_RESNET));
            }
            if (i < n - 1) t.add(new Rename("encoder.down_blocks." + i + ".downsamplers.0.", "encoder.down." + i + ".downsample."));
            // decoder blocks are numbered from the lowest resolution in ldm, from the highest in diffusers; diffusers'
            // script counts down from SD's four blocks (3 - i), which is ldm's n - 1 - i for every real SD VAE
            int up = Math.max(n, 4) - 1 - i;
            for (int j = 0; j <= layersPerBlock; j++) {
                t.add(new Rename("decoder.up_blocks." + i + ".resnets." + j + ".", "decoder.up." + up + ".block." + j + ".", VAE_RESNET));
            }
            if (i < n - 1) t.add(new Rename("decoder.up_blocks." + i + ".upsamplers.0.", "decoder.up." + up + ".upsample."));
        }
        return t;
    }

    private static final List<String[]> OPENCLIP_LAYER = List.of(new String[] {"layer_norm1.", "ln_1."},
            new String[] {"layer_norm2.", "ln_2."}, new String[] {"self_attn.out_proj.", "attn.out_proj."},
            new String[] {"self_attn.q_proj.", "attn.in_proj_"}, new String[] {"mlp.fc1.", "mlp.c_fc."},
            new String[] {"mlp.fc2.", "mlp.c_proj."});

    private static List<Rename> openClipTable(int layers) {
        List<Rename> t = new ArrayList<>(List.of(new Rename("text_model.embeddings.token_embedding.", "token_embedding."),
                new Rename("text_model.embeddings.position_embedding.weight", "positional_embedding"),
                new Rename("text_model.final_layer_norm.", "ln_final.")));
        for (int i = 0; i < layers; i++) {
            t.add(new Rename("text_model.encoder.layers." + i + ".", "transformer.resblocks." + i + ".", OPENCLIP_LAYER));
        }
        return t;
    }
}
