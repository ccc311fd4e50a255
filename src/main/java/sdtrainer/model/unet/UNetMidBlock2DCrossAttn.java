package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;

/** diffusers UNetMidBlock2DCrossAttn: resnet, then (attention, resnet) pairs. */
public final class UNetMidBlock2DCrossAttn extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Transformer2DModel> attentions;

    public UNetMidBlock2DCrossAttn(UNetConfig c, int channels, int tembChannels, int heads, int depth) {
        attentions = child("attentions", new ModuleList<>());
        attentions.add(new Transformer2DModel(heads, channels / heads, channels, depth,
                c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection()));
        resnets = child("resnets", new ModuleList<>());
        for (int i = 0; i < 2; i++) {
            resnets.add(new ResnetBlock2D(channels, channels, tembChannels, c.normNumGroups(), c.normEps(), c.midBlockScaleFactor()));
        }
    }

    public NDArray forward(NDArray h, NDArray temb, NDArray context) {
        h = resnets.get(0).forward(h, temb);
        for (int i = 0; i < attentions.size(); i++) {
            h = attentions.get(i).forward(h, context);
            h = resnets.get(i + 1).forward(h, temb);
        }
        return h;
    }
}
