package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** torch.nn.Conv2d with square kernel, stride and padding; weight [out, in, k, k]. */
public class Conv2d extends Module implements Layer {
    private Layer adapter;
    public final int inChannels;
    public final int outChannels;
    public final int kernel;
    public final int stride;
    public final int padding;
    public final Parameter weight;
    public final Parameter bias;

    public Conv2d(int in, int out, int kernel, int stride, int padding) {
        this.inChannels = in;
        this.outChannels = out;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.weight = parameter("weight", out, in, kernel, kernel);
        this.bias = parameter("bias", out);
    }

    /**
     * Adds an adapter (LoRA, EH) whose output is summed onto this layer's; null removes it. The adapter owns
     * its own parameters, so the state-dict keys of the base model do not change.
     */
    public void setAdapter(Layer adapter) { this.adapter = adapter; }

    public Layer adapter() { return adapter; }

    @Override
    public NDArray forward(NDArray x) {
        NDArray y = ai.djl.nn.convolutional.Conv2d.conv2d(x, weight.get(), bias.get(),
                new Shape(stride, stride), new Shape(padding, padding), new Shape(1, 1), 1).singletonOrThrow();
        if (Flops.counting()) Flops.add(2L * y.getShape().size() * inChannels * kernel * kernel, weight, adapter != null);
        return adapter == null ? y : y.add(adapter.forward(x));
    }
}
