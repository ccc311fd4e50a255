package sdtrainer.model.clip;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Embedding;
import sdtrainer.nn.Module;

/** Token plus learned absolute position embeddings. */
public final class ClipTextEmbeddings extends Module {
    final Embedding token_embedding, position_embedding;

    ClipTextEmbeddings(ClipTextConfig c) {
        token_embedding = child("token_embedding", new Embedding(c.vocabSize(), c.hiddenSize()));
        position_embedding = child("position_embedding", new Embedding(c.maxPositionEmbeddings(), c.hiddenSize()));
    }

    NDArray forward(NDArray ids) {
        long len = ids.getShape().get(1);
        NDArray positions = ids.getManager().arange(0, len, 1, ai.djl.ndarray.types.DataType.INT64, ids.getDevice());
        return token_embedding.forward(ids).add(position_embedding.forward(positions));
    }
}
