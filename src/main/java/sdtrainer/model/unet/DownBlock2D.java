package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;

import java.util.List;

/** diffusers DownBlock2D: resnets, then an optional stride-2 downsampler; every output is kept as a skip. */
public class DownBlock2D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Downsample2D> downsamplers;

    public DownBlock2D(int in, int out, int tembChannels, int layers, int groups, float eps, boolean addDownsample,
                       int downsamplePadding) {
        resnets = child("resnets", new ModuleList<>());
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(i == 0 ? in : out, out, tembChannels, groups, eps, 1f));
        }
        downsamplers = addDownsample ? child("downsamplers", new ModuleList<>()) : null;
        if (addDownsample) downsamplers.add(new Downsample2D(out, downsamplePadding));
    }

    /** Runs the block, appending each intermediate output to {@code skips}. */
    public NDArray forward(NDArray h, NDArray temb, NDArray context, List<NDArray> skips) {
        for (int i = 0; i < resnets.size(); i++) {
            h = afterResnet(i, resnets.get(i).forward(h, temb), context);
            skips.add(h);
        }
        if (downsamplers != null) {
            h = downsamplers.get(0).forward(h);
            skips.add(h);
        }
        return h;
    }

    /** Hook for the cross-attention variant: what runs after resnet i. */
    NDArray afterResnet(int i, NDArray h, NDArray context) {
        return h;
    }
}
