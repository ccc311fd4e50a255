package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import sdtrainer.model.unet.Downsample2D;
import sdtrainer.model.unet.ResnetBlock2D;
import sdtrainer.nn.Module;
import sdtrainer.nn.Scopes;
import sdtrainer.nn.ModuleList;

/** diffusers DownEncoderBlock2D: resnets without time embedding, then the asymmetric-pad downsampler. */
public final class DownEncoderBlock2D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Downsample2D> downsamplers;

    public DownEncoderBlock2D(int in, int out, int layers, int groups, boolean addDownsample) {
        resnets = child("resnets", new ModuleList<>());
        for (int i = 0; i < layers; i++) resnets.add(new ResnetBlock2D(i == 0 ? in : out, out, 0, groups, 1e-6f, 1f));
        downsamplers = addDownsample ? child("downsamplers", new ModuleList<>()) : null;
        if (addDownsample) downsamplers.add(new Downsample2D(out, 0));
    }

    public NDArray forward(NDArray h) {
        // the block's input is the caller's: only what the block made is freed as it goes
        NDArray in = h;
        for (ResnetBlock2D r : resnets) h = h == in ? r.forward(h, null) : Scopes.advance(h, x -> r.forward(x, null));
        return downsamplers == null ? h : Scopes.advance(h, downsamplers.get(0)::forward);
    }
}
