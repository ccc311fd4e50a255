package sdtrainer.network;

import sdtrainer.model.unet.UNetConfig;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * kohya's LoRA module names for SDXL ({@code sdxl_train_network.py}): the UNet in the original (SGM) block naming,
 * {@code lora_unet_input_blocks_…}, {@code lora_unet_middle_block_…}, {@code lora_unet_output_blocks_…}, as
 * kohya's {@code sdxl_model_util.convert_diffusers_unet_state_dict_to_sdxl} maps diffusers' module paths; the text
 * encoders as {@code lora_te1_…} and {@code lora_te2_…} with their transformers paths. Block indices follow the
 * config (layers per block, which up blocks have attention), not fixed numbers.
 */
public final class SdxlLoraNames {
    public static final String UNET_PREFIX = "lora_unet", TE1_PREFIX = "lora_te1", TE2_PREFIX = "lora_te2";

    private static final Pattern DOWN = Pattern.compile("down_blocks\\.(\\d+)\\.(resnets|attentions|downsamplers)\\.(\\d+)\\.(.+)");
    private static final Pattern MID = Pattern.compile("mid_block\\.(resnets|attentions)\\.(\\d+)\\.(.+)");
    private static final Pattern UP = Pattern.compile("up_blocks\\.(\\d+)\\.(resnets|attentions|upsamplers)\\.(\\d+)\\.(.+)");
    /** ResnetBlock2D members in the original layout (in_layers = norm, SiLU, conv; out_layers = norm, SiLU, dropout, conv). */
    private static final Map<String, String> RESNET = Map.of("norm1", "in_layers.0", "conv1", "in_layers.2",
            "time_emb_proj", "emb_layers.1", "norm2", "out_layers.0", "conv2", "out_layers.3",
            "conv_shortcut", "skip_connection");
    private static final Map<String, String> TOP = Map.of("conv_in", "input_blocks.0.0",
            "time_embedding.linear_1", "time_embed.0", "time_embedding.linear_2", "time_embed.2",
            "add_embedding.linear_1", "label_emb.0.0", "add_embedding.linear_2", "label_emb.0.2",
            "conv_norm_out", "out.0", "conv_out", "out.2");

    private final UNetConfig config;

    public SdxlLoraNames(UNetConfig config) {
        this.config = config;
    }

    /** The kohya module name of a UNet module given by its diffusers path. */
    public String unet(String diffusersPath) {
        return Targets.name(UNET_PREFIX, originalPath(diffusersPath));
    }

    /** The original-layout module path of a diffusers UNet module path (a Linear or Conv2d). */
    public String originalPath(String p) {
        String top = TOP.get(p);
        if (top != null) return top;
        // each down block holds layers_per_block resnets (+ attentions) and one downsampler slot; up blocks one more resnet
        int stride = config.layersPerBlock() + 1;
        Matcher m = DOWN.matcher(p);
        if (m.matches()) {
            int block = Integer.parseInt(m.group(1)), j = Integer.parseInt(m.group(3));
            return switch (m.group(2)) {
                case "resnets" -> "input_blocks." + (1 + block * stride + j) + ".0." + resnet(m.group(4), p);
                case "attentions" -> "input_blocks." + (1 + block * stride + j) + ".1." + m.group(4);
                default -> "input_blocks." + ((block + 1) * stride) + ".0." + sampler(m.group(4), "op", p);
            };
        }
        m = MID.matcher(p);
        if (m.matches()) {
            int j = Integer.parseInt(m.group(2));
            return m.group(1).equals("resnets") ? "middle_block." + (2 * j) + "." + resnet(m.group(3), p)
                    : "middle_block." + (2 * j + 1) + "." + m.group(3);
        }
        m = UP.matcher(p);
        if (m.matches()) {
            int block = Integer.parseInt(m.group(1)), j = Integer.parseInt(m.group(3));
            return switch (m.group(2)) {
                case "resnets" -> "output_blocks." + (block * stride + j) + ".0." + resnet(m.group(4), p);
                case "attentions" -> "output_blocks." + (block * stride + j) + ".1." + m.group(4);
                default -> {
                    // the upsampler follows the last resnet and, in attention blocks, its transformer
                    int slot = config.upBlockTypes().get(block).startsWith("CrossAttn") ? 2 : 1;
                    yield "output_blocks." + (block * stride + stride - 1) + "." + slot + "." + sampler(m.group(4), "conv", p);
                }
            };
        }
        throw new IllegalArgumentException("UNet module '" + p + "' has no name in kohya's SDXL layout");
    }

    private static String resnet(String member, String path) {
        String mapped = RESNET.get(member);
        if (mapped == null) throw new IllegalArgumentException("UNet module '" + path + "' has no name in kohya's SDXL layout");
        return mapped;
    }

    private static String sampler(String member, String name, String path) {
        if (!member.equals("conv")) throw new IllegalArgumentException("UNet module '" + path + "' has no name in kohya's SDXL layout");
        return name;
    }
}
