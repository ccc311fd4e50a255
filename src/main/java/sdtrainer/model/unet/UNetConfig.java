package sdtrainer.model.unet;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** The fields of a diffusers UNet2DConditionModel config.json that shape the network. */
public record UNetConfig(int inChannels, int outChannels, List<Integer> blockOutChannels, List<String> downBlockTypes,
                         List<String> upBlockTypes, String midBlockType, int layersPerBlock, int crossAttentionDim,
                         List<Integer> heads, int normNumGroups, float normEps, boolean useLinearProjection,
                         boolean flipSinToCos, int freqShift, int sampleSize, float midBlockScaleFactor,
                         List<Integer> transformerLayersPerBlock, int convInKernel, int convOutKernel, int downsamplePadding,
                         String additionEmbedType, int additionTimeEmbedDim, int projectionClassEmbeddingsInputDim,
                         int timeEmbeddingDim) {

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
        // an int means the same depth for every down block (diffusers broadcasts it)
        JsonNode tlpb = c.path("transformer_layers_per_block");
        List<Integer> depths = new ArrayList<>();
        for (int i = 0; i < down.size(); i++) depths.add(tlpb.isArray() ? tlpb.get(i).asInt() : tlpb.asInt(1));
        String addition = c.hasNonNull("addition_embed_type") ? c.get("addition_embed_type").asText() : null;
        if (addition != null && !addition.equals("text_time")) {
            throw new IllegalArgumentException("unet addition_embed_type '" + addition + "' is not supported (text_time)");
        }
        for (String key : new String[] {"class_embed_type", "encoder_hid_dim", "time_cond_proj_dim"}) {
            if (c.hasNonNull(key)) throw new IllegalArgumentException("unet " + key + " is not supported");
        }
        if (addition != null && !c.hasNonNull("projection_class_embeddings_input_dim")) {
            throw new IllegalArgumentException("unet addition_embed_type text_time needs projection_class_embeddings_input_dim");
        }
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
                depths,
                c.path("conv_in_kernel").asInt(3),
                c.path("conv_out_kernel").asInt(3),
                c.path("downsample_padding").asInt(1),
                addition,
                c.path("addition_time_embed_dim").asInt(0),
                c.path("projection_class_embeddings_input_dim").asInt(0),
                c.hasNonNull("time_embedding_dim") ? c.get("time_embedding_dim").asInt() : boc.get(0) * 4);
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

    /** SDXL's added conditioning: a pooled text embedding and six size/crop ids go into the time embedding. */
    public boolean textTimeConditioning() {
        return "text_time".equals(additionEmbedType);
    }

    /** Latent sides must be multiples of this (one factor 2 per downsampling block). */
    public int downsamplingFactor() {
        return 1 << (blockOutChannels.size() - 1);
    }
}
