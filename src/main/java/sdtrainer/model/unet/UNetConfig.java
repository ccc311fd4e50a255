package sdtrainer.model.unet;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** The fields of a diffusers UNet2DConditionModel config.json that shape the network. */
public record UNetConfig(int inChannels, int outChannels, List<Integer> blockOutChannels, List<String> downBlockTypes,
                         List<String> upBlockTypes, String midBlockType, int layersPerBlock, int crossAttentionDim,
                         List<Integer> heads, int normNumGroups, float normEps, boolean useLinearProjection,
                         boolean flipSinToCos, int freqShift, int sampleSize, float midBlockScaleFactor,
                         int transformerLayersPerBlock, int convInKernel, int convOutKernel, int downsamplePadding) {

    public static UNetConfig from(JsonNode c) {
        List<Integer> boc = ints(c.get("block_out_channels"));
        List<String> down = strings(c.get("down_block_types"));
        // diffusers' legacy naming: attention_head_dim is the number of heads unless num_attention_heads is given
        JsonNode headsNode = c.hasNonNull("num_attention_heads") ? c.get("num_attention_heads") : c.path("attention_head_dim");
        List<Integer> heads = new ArrayList<>();
        for (int i = 0; i < down.size(); i++) {
            heads.add(headsNode.isArray() ? headsNode.get(i).asInt() : headsNode.asInt(8));
        }
        int cad = c.path("cross_attention_dim").isArray() ? c.get("cross_attention_dim").get(0).asInt()
                : c.path("cross_attention_dim").asInt(1280);
        JsonNode tlpb = c.path("transformer_layers_per_block");
        return new UNetConfig(
                c.path("in_channels").asInt(4),
                c.path("out_channels").asInt(4),
                boc, down, strings(c.get("up_block_types")),
                c.path("mid_block_type").asText("UNetMidBlock2DCrossAttn"),
                c.path("layers_per_block").asInt(2),
                cad, heads,
                c.path("norm_num_groups").asInt(32),
                (float) c.path("norm_eps").asDouble(1e-5),
                c.path("use_linear_projection").asBoolean(false),
                c.path("flip_sin_to_cos").asBoolean(true),
                c.path("freq_shift").asInt(0),
                c.path("sample_size").asInt(64),
                (float) c.path("mid_block_scale_factor").asDouble(1.0),
                tlpb.isArray() ? tlpb.get(0).asInt() : tlpb.asInt(1),
                c.path("conv_in_kernel").asInt(3),
                c.path("conv_out_kernel").asInt(3),
                c.path("downsample_padding").asInt(1));
    }

    static List<Integer> ints(JsonNode a) {
        List<Integer> out = new ArrayList<>();
        a.forEach(n -> out.add(n.asInt()));
        return out;
    }

    static List<String> strings(JsonNode a) {
        List<String> out = new ArrayList<>();
        a.forEach(n -> out.add(n.asText()));
        return out;
    }

    /** Latent sides must be multiples of this (one factor 2 per downsampling block). */
    public int downsamplingFactor() {
        return 1 << (blockOutChannels.size() - 1);
    }
}
