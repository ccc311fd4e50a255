package sdtrainer.nn;

import ai.djl.ndarray.NDArray;

/** torch.nn.Embedding: rows of weight [num, dim] picked by integer ids. */
public final class Embedding extends Module implements Layer {
    public final Parameter weight;

    public Embedding(int num, int dim) {
        this.weight = parameter("weight", num, dim);
    }

    @Override
    public NDArray forward(NDArray ids) {
        // ids first, so the result belongs to the caller's (per-step) manager, not the parameters'
        return ai.djl.nn.core.Embedding.embedding(ids, weight.get(), ai.djl.ndarray.types.SparseFormat.DENSE).singletonOrThrow();
    }
}
