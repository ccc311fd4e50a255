package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.ModuleList;

/** diffusers CrossAttnDownBlock2D: a DownBlock2D with a Transformer2DModel of {@code depth} blocks after each resnet. */
public final class CrossAttnDownBlock2D extends DownBlock2D {
    final ModuleList<Transformer2DModel> attentions;

    public CrossAttnDownBlock2D(UNetConfig c, int in, int out, int tembChannels, int heads, int depth,
                                boolean addDownsample) {
        super(in, out, tembChannels, c.layersPerBlock(), c.normNumGroups(), c.normEps(), addDownsample, c.downsamplePadding());
        attentions = child("attentions", new ModuleList<>());
        for (int i = 0; i < c.layersPerBlock(); i++) {
            attentions.add(new Transformer2DModel(heads, out / heads, out, depth,
                    c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection()));
        }
    }

    @Override
    NDArray afterResnet(int i, NDArray h, NDArray context) {
        return attentions.get(i).forward(h, context);
    }
}
