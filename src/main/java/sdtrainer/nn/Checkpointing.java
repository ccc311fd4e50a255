package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Gradient checkpointing by hand (DJL has no custom autograd functions): segments run without recording a
 * graph and keep only their inputs; their outputs enter the rest of the graph as fresh leaves. After the loss's
 * own backward, {@link #backward()} recomputes each segment, newest first, with recording on, and pushes the
 * gradients its output leaves received back through it into the parameters and its input leaves; last, the
 * gradients of the boundary leaves flow into the ordinary graph that produced them. Every segment input is a
 * leaf that requires gradients, so each recomputation records a graph even when its own parameters are frozen.
 * One instance serves one training step.
 */
public final class Checkpointing {
    private record Segment(Function<List<NDArray>, List<NDArray>> fn, List<NDArray> inputs, List<NDArray> outputs) {}

    private final List<Segment> segments = new ArrayList<>();
    private final List<NDArray> sources = new ArrayList<>();
    private final List<NDArray> boundaryLeaves = new ArrayList<>();
    private final List<NDArray> leaves = new ArrayList<>();

    private final boolean conditioningInGraph;

    /**
     * @param conditioningInGraph whether the conditioning given to the model (text states) carries gradients back
     *                            to a trained text encoder
     */
    public Checkpointing(boolean conditioningInGraph) {
        this.conditioningInGraph = conditioningInGraph;
    }

    public boolean conditioningInGraph() {
        return conditioningInGraph;
    }

    /**
     * A leaf standing for {@code graphTensor} inside segments. When {@code inGraph} (it was computed from trainable
     * parameters), the gradient its leaf collects is pushed into its graph at the end of {@link #backward()}.
     * DJL cannot tell this itself: its requiresGrad is false for non-leaf results.
     */
    public NDArray enter(NDArray graphTensor, boolean inGraph) {
        NDArray leaf = leafOf(graphTensor);
        if (inGraph) {
            sources.add(graphTensor);
            boundaryLeaves.add(leaf);
        }
        return leaf;
    }

    /** Runs {@code fn} on {@code inputs} (leaves or constants) without recording; returns its outputs as leaves. */
    public List<NDArray> run(Function<List<NDArray>, List<NDArray>> fn, List<NDArray> inputs) {
        List<NDArray> outs;
        try (NoGrad ignored = new NoGrad()) {
            outs = fn.apply(inputs);
        }
        List<NDArray> outLeaves = new ArrayList<>(outs.size());
        for (NDArray o : outs) outLeaves.add(leafOf(o));
        segments.add(new Segment(fn, inputs, outLeaves));
        return outLeaves;
    }

    private NDArray leafOf(NDArray t) {
        NDArray leaf = t.stopGradient();
        leaf.setRequiresGradient(true);
        leaves.add(leaf);
        return leaf;
    }

    /**
     * The arrays {@link #backward()} reads: every leaf made here (segment inputs are such leaves) and the graph
     * tensors behind the boundary leaves. The caller keeps them when it frees the forward's other handles.
     */
    public List<NDArray> held() {
        List<NDArray> all = new ArrayList<>(leaves);
        all.addAll(sources);
        for (Segment s : segments) all.addAll(s.inputs());
        return all;
    }

    /** Call after the loss's backward: recomputes the segments and completes the gradients. */
    public void backward() {
        boolean previous = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try {
            for (int i = segments.size() - 1; i >= 0; i--) {
                Segment s = segments.get(i);
                List<NDArray> recomputed = s.fn().apply(s.inputs());
                pushBack(recomputed, s.outputs());
            }
            if (!sources.isEmpty()) pushBack(sources, boundaryLeaves);
        } finally {
            JniUtils.setGradMode(previous);
        }
    }

    /** One backward pass of sum_i <outputs_i, grad(leaves_i)> through the graph behind {@code outputs}. */
    private static void pushBack(List<NDArray> outputs, List<NDArray> leaves) {
        NDArray objective = null;
        for (int i = 0; i < outputs.size(); i++) {
            PtNDArray g = JniUtils.getGradient((PtNDArray) leaves.get(i));
            if (g == null) continue;
            NDArray term = outputs.get(i).mul(g).sum();
            objective = objective == null ? term : objective.add(term);
        }
        if (objective == null) return;
        JniUtils.backward((PtNDArray) objective, (PtNDArray) objective.onesLike(), false, false);
    }
}
