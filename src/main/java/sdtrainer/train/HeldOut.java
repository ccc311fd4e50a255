package sdtrainer.train;

import sdtrainer.config.OnBadSample;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.TrainingData;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/**
 * The samples the validation loss is computed on: a seeded share of the dataset taken out of training
 * ({@code --validation_split}), or every sample of another folder ({@code --validation_dataset}).
 */
public record HeldOut(TrainingData source, List<String> keys) {

    public HeldOut {
        keys = List.copyOf(keys);
    }

    /** Opens a dataset folder laid out like the training one. */
    public interface Opener {
        TrainingData open(Path dir) throws IOException;
    }

    /**
     * The config's held-out samples, empty when it asks for none. A split takes its keys out of {@code data}'s
     * training order: kohya's rule, the sorted keys shuffled with the validation seed and the last
     * {@code n - ceil(n * (1 - F))} held out.
     *
     * @throws IOException when the split leaves no sample on one side, or the validation folder has no usable one
     */
    public static Optional<HeldOut> of(TrainConfig cfg, TrainingData data, long seed, Opener opener) throws IOException {
        if (cfg.validationDataset().isPresent()) {
            Path dir = cfg.validationDataset().get();
            TrainingData other = opener.open(dir);
            List<String> problems = other.problems();
            if (!problems.isEmpty() && cfg.onBadSample() == OnBadSample.SKIP) other.dropBad();
            else if (!problems.isEmpty()) {
                throw new IOException(problems.size() + " bad sample(s) in the validation dataset " + dir + ":\n  "
                        + String.join("\n  ", problems) + "\n(use --on_bad_sample skip to validate without them)");
            }
            if (other.size() == 0) throw new IOException("--validation_dataset " + dir + ": no usable samples");
            return Optional.of(new HeldOut(other, other.keys()));
        }
        if (cfg.validationSplit().isEmpty()) return Optional.empty();
        double share = cfg.validationSplit().getAsDouble();
        List<String> keys = split(data.keys(), share, seed);
        int n = data.size();
        if (keys.isEmpty() || keys.size() == n) {
            throw new IOException("--validation_split " + share + " of " + n + " sample(s) in " + cfg.dataset().orElseThrow()
                    + " holds out " + keys.size() + "; both training and validation need at least one sample");
        }
        data.exclude(keys);
        return Optional.of(new HeldOut(data, keys));
    }

    /** The held-out keys of a split, in their drawn order. */
    static List<String> split(List<String> sortedKeys, double share, long seed) {
        List<String> shuffled = new ArrayList<>(sortedKeys);
        Collections.shuffle(shuffled, new Random(seed));
        int training = (int) Math.ceil(shuffled.size() * (1 - share));
        return List.copyOf(shuffled.subList(training, shuffled.size()));
    }
}
