package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import sdtrainer.model.unet.Downsample2D;
import sdtrainer.model.unet.ResnetBlock2D;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Scopes;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

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
        List<UnaryOperator<NDArray>> blocks = new ArrayList<>();
        for (ResnetBlock2D r : resnets) blocks.add(x -> r.forward(x, null));
        if (downsamplers != null) blocks.add(downsamplers.get(0)::forward);
        return Scopes.chain(h, blocks);
    }
}
