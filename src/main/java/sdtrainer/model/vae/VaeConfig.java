package sdtrainer.model.vae;

import static sdtrainer.io.ConfigFields.integer;
import static sdtrainer.io.ConfigFields.integers;
import static sdtrainer.io.ConfigFields.number;
import static sdtrainer.io.ConfigFields.texts;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/** The fields of a diffusers AutoencoderKL config.json. */
public record VaeConfig(int inChannels, int outChannels, int latentChannels, List<Integer> blockOutChannels,
                        int layersPerBlock, int normNumGroups, float scalingFactor, int sampleSize) {

    public static VaeConfig from(JsonNode c) {
        List<Integer> boc = integers(c, "block_out_channels");
        for (String key : new String[] {"down_block_types", "up_block_types"}) {
            for (String type : c.hasNonNull(key) ? texts(c, key) : List.<String>of()) {
                if (!type.equals("DownEncoderBlock2D") && !type.equals("UpDecoderBlock2D")) {
                    throw new IllegalArgumentException("vae block type '" + type + "' is not supported");
                }
            }
        }
        return new VaeConfig(
                integer(c, "in_channels", 3),
                integer(c, "out_channels", 3),
                integer(c, "latent_channels", 4),
                boc,
                integer(c, "layers_per_block", 1),
                integer(c, "norm_num_groups", 32),
                (float) number(c, "scaling_factor", 0.18215),
                integer(c, "sample_size", 512));
    }

    /** Image side / latent side: 2^(number of blocks - 1); 8 for real SD VAEs. */
    public int downsamplingFactor() {
        return 1 << (blockOutChannels.size() - 1);
    }
}
