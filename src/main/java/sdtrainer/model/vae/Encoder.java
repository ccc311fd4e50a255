package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.GroupNorm;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Scopes;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/** diffusers Encoder: image to the 2 x latent_channels moments (mean, logvar) before quant_conv. */
public final class Encoder extends Module {
    final Conv2d conv_in, conv_out;
    final ModuleList<DownEncoderBlock2D> down_blocks;
    final UNetMidBlock2D mid_block;
    final GroupNorm conv_norm_out;

    public Encoder(VaeConfig c) {
        var boc = c.blockOutChannels();
        conv_in = child("conv_in", new Conv2d(c.inChannels(), boc.get(0), 3, 1, 1));
        down_blocks = child("down_blocks", new ModuleList<>());
        int out = boc.get(0);
        for (int i = 0; i < boc.size(); i++) {
            int in = out;
            out = boc.get(i);
            down_blocks.add(new DownEncoderBlock2D(in, out, c.layersPerBlock(), c.normNumGroups(), i < boc.size() - 1));
        }
        mid_block = child("mid_block", new UNetMidBlock2D(out, c.normNumGroups()));
        conv_norm_out = child("conv_norm_out", new GroupNorm(c.normNumGroups(), out, 1e-6f));
        conv_out = child("conv_out", new Conv2d(out, 2 * c.latentChannels(), 3, 1, 1));
    }

    public NDArray forward(NDArray x) {
        List<UnaryOperator<NDArray>> blocks = new ArrayList<>(List.of(conv_in::forward));
        for (DownEncoderBlock2D b : down_blocks) blocks.add(b::forward);
        blocks.add(mid_block::forward);
        blocks.add(h -> conv_out.forward(conv_norm_out.forwardSilu(h)));
        return Scopes.chain(x, blocks);
    }
}
