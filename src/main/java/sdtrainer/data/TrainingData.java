package sdtrainer.data;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** A dataset as the trainer sees it: an epoch's minibatches (lists of keys) and the loading of one key. */
public interface TrainingData {

    /** The minibatches of one pass over the data, in training order; each holds keys of equally sized samples. */
    List<List<String>> epoch(Random random, int minibatchSize);

    /** Reads and decodes one sample; called on a loader thread. */
    Sample load(String key) throws IOException;

    /** Every problem found before training, one line each naming the file; empty when the data is usable. */
    List<String> problems();

    /** Defects that do not stop training (an empty caption), one line each naming the file. */
    List<String> warnings();

    /** Leaves out the keys that have problems (for {@code --on_bad_sample skip}); returns how many were dropped. */
    int dropBad();

    /** The usable samples' keys (bad ones left out), sorted. */
    List<String> keys();

    /**
     * Takes {@code keys} out of the training order (a held-out validation share); they stay loadable with
     * {@link #load}.
     */
    void exclude(java.util.Collection<String> keys);

    /** The shape {@link #load} gives the sample of {@code key} ([C, H, W]), known without reading it. */
    long[] shape(String key);

    /** Number of usable samples. */
    int size();

    /** Every caption, for tag statistics. */
    List<String> captions();

    /** Usable samples per bucket ([width, height] in pixels, in the dataset's order); empty without buckets. */
    default java.util.Map<List<Integer>, Integer> bucketCounts() {
        return java.util.Map.of();
    }

    /** Consecutive minibatches of {@code size} keys; the last one may be smaller, as the original's. */
    static List<List<String>> chunk(List<String> keys, int size) {
        List<List<String>> out = new ArrayList<>();
        for (int i = 0; i < keys.size(); i += size) out.add(List.copyOf(keys.subList(i, Math.min(keys.size(), i + size))));
        return out;
    }
}
