package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.ModuleList;

/** diffusers CrossAttnUpBlock2D: an UpBlock2D with a Transformer2DModel of {@code depth} blocks after each resnet. */
public final class CrossAttnUpBlock2D extends UpBlock2D {
    final ModuleList<Transformer2DModel> attentions;

    public CrossAttnUpBlock2D(UNetConfig c, int in, int prevOut, int out, int tembChannels, int heads, int depth,
                              boolean addUpsample) {
        super(in, prevOut, out, tembChannels, c.layersPerBlock() + 1, c.normNumGroups(), c.normEps(), addUpsample);
        attentions = child("attentions", new ModuleList<>());
        for (int i = 0; i < c.layersPerBlock() + 1; i++) {
            attentions.add(new Transformer2DModel(heads, out / heads, out, depth,
                    c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection()));
        }
    }

    @Override
    NDArray afterResnet(int i, NDArray h, NDArray context) {
        return attentions.get(i).forward(h, context);
    }
}
