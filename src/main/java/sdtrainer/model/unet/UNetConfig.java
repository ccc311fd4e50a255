package sdtrainer.model.unet;

import static sdtrainer.io.ConfigFields.flag;
import static sdtrainer.io.ConfigFields.integer;
import static sdtrainer.io.ConfigFields.integers;
import static sdtrainer.io.ConfigFields.number;
import static sdtrainer.io.ConfigFields.perBlock;
import static sdtrainer.io.ConfigFields.text;
import static sdtrainer.io.ConfigFields.texts;

import com.fasterxml.jackson.databind.JsonNode;

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
        List<Integer> boc = integers(c, "block_out_channels");
        List<String> down = texts(c, "down_block_types");
        // diffusers' legacy naming: attention_head_dim is the number of heads unless num_attention_heads is given
        String headsKey = c.hasNonNull("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
        List<Integer> heads = perBlock(c, headsKey, down.size(), 8);
        int cad = perBlock(c, "cross_attention_dim", 1, 1280).get(0);
        List<Integer> depths = perBlock(c, "transformer_layers_per_block", down.size(), 1);
        String addition = text(c, "addition_embed_type", null);
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
                integer(c, "in_channels", 4),
                integer(c, "out_channels", 4),
                boc, down, texts(c, "up_block_types"),
                text(c, "mid_block_type", "UNetMidBlock2DCrossAttn"),
                integer(c, "layers_per_block", 2),
                cad, heads,
                integer(c, "norm_num_groups", 32),
                (float) number(c, "norm_eps", 1e-5),
                flag(c, "use_linear_projection", false),
                flag(c, "flip_sin_to_cos", true),
                integer(c, "freq_shift", 0),
                integer(c, "sample_size", 64),
                (float) number(c, "mid_block_scale_factor", 1.0),
                depths,
                integer(c, "conv_in_kernel", 3),
                integer(c, "conv_out_kernel", 3),
                integer(c, "downsample_padding", 1),
                addition,
                integer(c, "addition_time_embed_dim", 0),
                integer(c, "projection_class_embeddings_input_dim", 0),
                integer(c, "time_embedding_dim", boc.get(0) * 4));
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
