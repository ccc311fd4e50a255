package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import sdtrainer.model.unet.ResnetBlock2D;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;

/** diffusers UNetMidBlock2D as the VAE uses it: resnet, attention, resnet, no time embedding. */
public final class UNetMidBlock2D extends Module {
    final ModuleList<AttentionBlock> attentions;
    final ModuleList<ResnetBlock2D> resnets;

    public UNetMidBlock2D(int channels, int groups) {
        attentions = child("attentions", new ModuleList<>());
        attentions.add(new AttentionBlock(channels, groups));
        resnets = child("resnets", new ModuleList<>());
        for (int i = 0; i < 2; i++) resnets.add(new ResnetBlock2D(channels, channels, 0, groups, 1e-6f, 1f));
    }

    public NDArray forward(NDArray h) {
        h = resnets.get(0).forward(h, null);
        h = attentions.get(0).forward(h);
        return resnets.get(1).forward(h, null);
    }
}
