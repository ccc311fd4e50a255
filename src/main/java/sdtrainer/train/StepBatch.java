package sdtrainer.train;

import sdtrainer.data.Sample;

import java.util.ArrayList;
import java.util.List;

/**
 * The data of one optimizer step: its micro-batches (one without gradient accumulation), each with the keys its
 * samples' random draws come from and the share of the step's loss it carries.
 */
public record StepBatch(int pass, int index, List<Micro> micro) {

    /** Samples trained in one forward/backward; {@code weight} = their share of the step's samples. */
    public record Micro(List<Sample> samples, List<RunRandom.SampleKey> keys, double weight) {}

    /** Splits the step's samples into micro-batches of {@code microBatch}, in order. */
    public static StepBatch split(int pass, int index, List<Sample> samples, int microBatch) {
        List<Micro> out = new ArrayList<>();
        for (int from = 0; from < samples.size(); from += microBatch) {
            int to = Math.min(samples.size(), from + microBatch);
            List<RunRandom.SampleKey> keys = new ArrayList<>();
            for (int i = from; i < to; i++) keys.add(new RunRandom.SampleKey(pass, index, i));
            out.add(new Micro(List.copyOf(samples.subList(from, to)), keys, (double) (to - from) / samples.size()));
        }
        return new StepBatch(pass, index, out);
    }

    public List<Sample> samples() {
        List<Sample> all = new ArrayList<>();
        micro.forEach(m -> all.addAll(m.samples()));
        return all;
    }
}
