package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.GroupNorm;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Scopes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.UnaryOperator;

/** diffusers Decoder: latent (after post_quant_conv) to image. */
public final class Decoder extends Module {
    final Conv2d conv_in, conv_out;
    final UNetMidBlock2D mid_block;
    final ModuleList<UpDecoderBlock2D> up_blocks;
    final GroupNorm conv_norm_out;

    public Decoder(VaeConfig c) {
        List<Integer> rev = new ArrayList<>(c.blockOutChannels());
        Collections.reverse(rev);
        conv_in = child("conv_in", new Conv2d(c.latentChannels(), rev.get(0), 3, 1, 1));
        mid_block = child("mid_block", new UNetMidBlock2D(rev.get(0), c.normNumGroups()));
        up_blocks = child("up_blocks", new ModuleList<>());
        int out = rev.get(0);
        for (int i = 0; i < rev.size(); i++) {
            int prev = out;
            out = rev.get(i);
            up_blocks.add(new UpDecoderBlock2D(prev, out, c.layersPerBlock() + 1, c.normNumGroups(), i < rev.size() - 1));
        }
        conv_norm_out = child("conv_norm_out", new GroupNorm(c.normNumGroups(), out, 1e-6f));
        conv_out = child("conv_out", new Conv2d(out, c.outChannels(), 3, 1, 1));
    }

    public NDArray forward(NDArray z) {
        List<UnaryOperator<NDArray>> blocks = new ArrayList<>(List.of(conv_in::forward, mid_block::forward));
        for (UpDecoderBlock2D b : up_blocks) blocks.add(b::forward);
        blocks.add(h -> conv_out.forward(conv_norm_out.forwardSilu(h)));
        return Scopes.chain(z, blocks);
    }
}
