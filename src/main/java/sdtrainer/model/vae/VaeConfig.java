package sdtrainer.model.vae;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** The fields of a diffusers AutoencoderKL config.json. */
public record VaeConfig(int inChannels, int outChannels, int latentChannels, List<Integer> blockOutChannels,
                        int layersPerBlock, int normNumGroups, float scalingFactor, int sampleSize) {

    public static VaeConfig from(JsonNode c) {
        List<Integer> boc = new ArrayList<>();
        c.get("block_out_channels").forEach(n -> boc.add(n.asInt()));
        for (String key : new String[] {"down_block_types", "up_block_types"}) {
            for (JsonNode t : c.path(key)) {
                String type = t.asText();
                if (!type.equals("DownEncoderBlock2D") && !type.equals("UpDecoderBlock2D")) {
                    throw new IllegalArgumentException("vae block type '" + type + "' is not supported");
                }
            }
        }
        return new VaeConfig(
                c.path("in_channels").asInt(3),
                c.path("out_channels").asInt(3),
                c.path("latent_channels").asInt(4),
                boc,
                c.path("layers_per_block").asInt(1),
                c.path("norm_num_groups").asInt(32),
                (float) c.path("scaling_factor").asDouble(0.18215),
                c.path("sample_size").asInt(512));
    }

    /** Image side / latent side: 2^(number of blocks - 1); 8 for real SD VAEs. */
    public int downsamplingFactor() {
        return 1 << (blockOutChannels.size() - 1);
    }
}
