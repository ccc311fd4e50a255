package sdtrainer.pipeline.format;

import com.fasterxml.jackson.databind.JsonNode;
import sdtrainer.io.TensorFileException;
import sdtrainer.model.clip.ClipTextConfig;

import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/**
 * The model families we know, recognised from a single file's keys or from a diffusers folder's configs.
 * The one place that decides what a checkpoint is: a new family adds a constant and its rule here.
 */
public enum ModelFamily {
    SD1("SD1.x"),
    SD2("SD2.x"),
    SDXL("SDXL");

    /** UNet, VAE and text-encoder prefixes of the original (CompVis/ldm) layout. */
    public static final String UNET_PREFIX = "model.diffusion_model.", VAE_PREFIX = "first_stage_model.",
            SD1_TEXT_PREFIX = "cond_stage_model.transformer.", SD2_TEXT_PREFIX = "cond_stage_model.model.",
            SDXL_TEXT1_PREFIX = "conditioner.embedders.0.transformer.", SDXL_TEXT2_PREFIX = "conditioner.embedders.1.model.";

    private final String label;

    ModelFamily(String label) {
        this.label = label;
    }

    public String label() { return label; }

    @Override
    public String toString() { return label; }

    /**
     * The family of an original-layout file from its tensor names; families we recognise but cannot load
     * (SDXL, SD 3, Flux, ...) and files that are no Stable Diffusion checkpoint are refused with one line.
     */
    public static ModelFamily detect(Path file, Set<String> keys) throws TensorFileException {
        if (any(keys, UNET_PREFIX + "joint_blocks.") || any(keys, "text_encoders.")) {
            throw new TensorFileException(file, "is a Stable Diffusion 3 checkpoint (MMDiT joint_blocks); only SD 1.x and SD 2.x are supported");
        }
        if (any(keys, "double_blocks.") || any(keys, UNET_PREFIX + "double_blocks.")) {
            throw new TensorFileException(file, "is a Flux checkpoint (double_blocks); only SD 1.x and SD 2.x are supported");
        }
        boolean unet = any(keys, UNET_PREFIX);
        if (unet && any(keys, SDXL_TEXT2_PREFIX + "transformer.resblocks.")) return SDXL;
        if (any(keys, "conditioner.embedders.")) {
            throw new TensorFileException(file, "has conditioner.embedders.* keys but not SDXL base's UNet and two text"
                    + " encoders (" + UNET_PREFIX + "*, " + SDXL_TEXT1_PREFIX + "*, " + SDXL_TEXT2_PREFIX + "*): an SDXL refiner"
                    + " or another SGM model, which is not supported");
        }
        if (unet && any(keys, SD2_TEXT_PREFIX + "transformer.resblocks.")) return SD2;
        if (unet && any(keys, SD1_TEXT_PREFIX)) return SD1;
        Set<String> roots = new TreeSet<>();
        for (String k : keys) {
            int dot = k.indexOf('.');
            roots.add(dot < 0 ? k : k.substring(0, dot + 1) + "*");
            if (roots.size() >= 8) break;
        }
        throw new TensorFileException(file, unet
                ? "has a UNet (" + UNET_PREFIX + "*) but no SD 1.x (" + SD1_TEXT_PREFIX + "*), SD 2.x ("
                        + SD2_TEXT_PREFIX + "transformer.*) or SDXL (" + SDXL_TEXT2_PREFIX + "*) text encoder"
                : "is not a Stable Diffusion single file (no " + UNET_PREFIX + "* keys; it has " + roots
                        + "); give an SD 1.x / SD 2.x / SDXL checkpoint, or a diffusers folder");
    }

    /**
     * The family a diffusers folder's configs describe: SD 2.x uses OpenCLIP ViT-H (1024-wide context, gelu)
     * with linear projections; SDXL has the text_time added conditioning; everything else this UNet builds is
     * SD 1.x-shaped. Null for other added conditionings, which we cannot build.
     */
    public static ModelFamily fromConfigs(JsonNode unet, ClipTextConfig te) {
        if ("text_time".equals(unet.path("addition_embed_type").asText(null))) return SDXL;
        if (unet.hasNonNull("addition_embed_type")) return null;
        boolean sd2 = unet.path("cross_attention_dim").asInt() == 1024
                || (unet.path("use_linear_projection").asBoolean(false) && te.hiddenAct().equals("gelu"));
        return sd2 ? SD2 : SD1;
    }

    private static boolean any(Set<String> keys, String prefix) {
        for (String k : keys) if (k.startsWith(prefix)) return true;
        return false;
    }
}
