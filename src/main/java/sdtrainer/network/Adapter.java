package sdtrainer.network;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Layer;

import java.util.Map;

/** One adapter on one base layer: its trainable tensors by file key and the weight change it stands for. */
interface Adapter extends Layer {
    Target target();

    /** Trainable tensors keyed as in the saved file, e.g. {@code <name>.lora_down.weight}. */
    Map<String, NDArray> parameters();

    /** The change to the base weight that equals this adapter's output, shaped like the weight (new array). */
    NDArray delta();
}
