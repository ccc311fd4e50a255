package sdtrainer.nn;

import ai.djl.ndarray.NDArray;

/** torch.nn.Linear: y = x W^T + b with weight [out, in]. */
public class Linear extends Module implements Layer {
    private Layer adapter;
    public final int inFeatures;
    public final int outFeatures;
    public final Parameter weight;
    public final Parameter bias;

    public Linear(int in, int out, boolean bias) {
        this.inFeatures = in;
        this.outFeatures = out;
        this.weight = parameter("weight", out, in);
        this.bias = bias ? parameter("bias", out) : null;
    }

    /**
     * Adds an adapter (LoRA, EH) whose output is summed onto this layer's; null removes it. The adapter owns
     * its own parameters, so the state-dict keys of the base model do not change.
     */
    public void setAdapter(Layer adapter) { this.adapter = adapter; }

    public Layer adapter() { return adapter; }

    @Override
    public NDArray forward(NDArray x) {
        NDArray y = ai.djl.nn.core.Linear.linear(x, weight.get(), bias == null ? null : bias.get()).singletonOrThrow();
        if (Flops.counting()) Flops.add(2L * y.getShape().size() * inFeatures, weight, adapter != null);
        return adapter == null ? y : y.add(adapter.forward(x));
    }
}
