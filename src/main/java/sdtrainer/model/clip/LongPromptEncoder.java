package sdtrainer.model.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;

/**
 * Text states for prompts as kohya's SdTokenizeStrategy / SdTextEncodingStrategy make them.
 *
 * <p>{@code --max_token_length 150|225}: the prompt is tokenized to that many content tokens (+ BOS, EOS, padding),
 * cut into 75-token chunks that each get the first and last id of the padded sequence around them, every chunk is
 * encoded on its own, and the states are joined as [BOS state of chunk 0, the 75 inner states of every chunk, last
 * state of the last chunk]: [B, n*75 + 2, D]. Without it (or with 75) a prompt is one chunk of the tokenizer's
 * model_max_length, the plain 77-token path.
 *
 * <p>{@code --clip_skip N}: hidden state N from the end, then the final layer norm (N = 1 is the usual output).
 * SD 2.x text encoders in diffusers layout already end one layer early, so N = 1 there is the penultimate layer.
 */
public final class LongPromptEncoder {
    private final ClipTokenizer tokenizer;
    private final ClipTextModel textEncoder;
    private final int maxTokenLength;
    private final int clipSkip;

    /**
     * @param maxTokenLength content tokens per prompt, a multiple of the chunk size (model_max_length - 2, 75 for
     *                       SD); 0 keeps the tokenizer's model_max_length (one chunk)
     * @param clipSkip       1 for the last hidden state, N for the N-th from the end
     */
    public LongPromptEncoder(ClipTokenizer tokenizer, ClipTextModel textEncoder, int maxTokenLength, int clipSkip) {
        int chunk = tokenizer.maxLength() - 2;
        if (maxTokenLength < 0 || maxTokenLength % chunk != 0) {
            throw new IllegalArgumentException("max_token_length " + maxTokenLength + " is not a multiple of " + chunk);
        }
        if (clipSkip < 1 || clipSkip > textEncoder.config.numHiddenLayers()) {
            throw new IllegalArgumentException("clip_skip " + clipSkip + " is outside 1.."
                    + textEncoder.config.numHiddenLayers() + " (the text encoder's layers)");
        }
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.maxTokenLength = maxTokenLength == 0 ? chunk : maxTokenLength;
        this.clipSkip = clipSkip;
    }

    /** The plain path: one 77-token chunk, the last hidden state. */
    public static LongPromptEncoder standard(ClipTokenizer tokenizer, ClipTextModel textEncoder) {
        return new LongPromptEncoder(tokenizer, textEncoder, 0, 1);
    }

    /** Token ids [texts, chunks, model_max_length]. */
    public long[][][] tokenize(List<String> texts) {
        long[][][] out = new long[texts.size()][][];
        for (int b = 0; b < texts.size(); b++) {
            out[b] = chunks(tokenizer.encodePadded(texts.get(b), maxTokenLength + 2), tokenizer.maxLength(),
                    tokenizer.eosId(), tokenizer.padId());
        }
        return out;
    }

    /**
     * kohya's cut of padded ids into chunks of {@code width}: each chunk is the first id, {@code width - 2} ids,
     * and the last id of the padded sequence. When pad != eos (SD 2.x), a chunk whose text runs on gets EOS as its
     * last id, and a chunk that starts in the padding starts with EOS.
     */
    static long[][] chunks(long[] padded, int width, int eos, int pad) {
        int inner = width - 2;
        int n = (padded.length - 2) / inner;
        long[][] out = new long[n][];
        for (int j = 0; j < n; j++) {
            long[] c = new long[width];
            c[0] = padded[0];
            System.arraycopy(padded, 1 + j * inner, c, 1, inner);
            c[width - 1] = padded[padded.length - 1];
            if (n > 1 && pad != eos) {
                if (c[width - 2] != eos && c[width - 2] != pad) c[width - 1] = eos;
                if (c[1] == pad) c[1] = eos;
            }
            out[j] = c;
        }
        return out;
    }

    /** Text states [B, chunks*75 + 2, D] (77 rows for one chunk) owned by {@code m}, on its device. */
    public NDArray encode(List<String> texts, NDManager m) {
        int b = texts.size(), chunks = chunks(), width = tokenizer.maxLength();
        NDArray tokens = ids(texts, m);
        ClipTextModel.Output out = textEncoder.forward(tokens);
        NDArray states = clipSkip == 1 ? out.lastHiddenState()
                : textEncoder.finalLayerNorm(out.hiddenStates().get(out.hiddenStates().size() - clipSkip));
        return join(states, b, chunks, width);
    }

    /** Token ids of {@link #tokenize} as one [texts * chunks, model_max_length] tensor owned by {@code m}. */
    public NDArray ids(List<String> texts, NDManager m) {
        long[][][] ids = tokenize(texts);
        int b = ids.length, chunks = ids[0].length, width = tokenizer.maxLength();
        long[] flat = new long[b * chunks * width];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < chunks; j++) System.arraycopy(ids[i][j], 0, flat, (i * chunks + j) * width, width);
        }
        return m.create(flat, new Shape((long) b * chunks, width));
    }

    /** Chunks of 75 content tokens per prompt. */
    public int chunks() {
        return maxTokenLength / (tokenizer.maxLength() - 2);
    }

    /**
     * kohya's join of per-chunk states [b * chunks, width, D]: the BOS state of chunk 0, the inner states of every
     * chunk and the last state of the last chunk, [b, chunks * (width - 2) + 2, D]; one chunk stays as it is.
     */
    public static NDArray join(NDArray states, int b, int chunks, int width) {
        long d = states.getShape().get(2);
        states = states.reshape(b, (long) chunks * width, d);
        if (chunks == 1) return states;
        List<NDArray> parts = new ArrayList<>();
        parts.add(states.get(new NDIndex(":, 0:1")));
        for (int j = 0; j < chunks; j++) {
            parts.add(states.get(new NDIndex(":, {}:{}", j * width + 1, j * width + width - 1)));
        }
        parts.add(states.get(new NDIndex(":, -1:")));
        return NDArrays.concat(new NDList(parts), 1);
    }

    public int maxTokenLength() {
        return maxTokenLength;
    }

    public int clipSkip() {
        return clipSkip;
    }
}
