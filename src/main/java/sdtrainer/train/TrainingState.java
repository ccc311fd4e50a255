package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import sdtrainer.io.AtomicDirectory;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.log.Report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a run stands: what {@code --save_state} writes and {@code --resume} reads. Random draws are derived from
 * the seed and the position ({@link RunRandom}), so seed + position stand for every generator's state.
 *
 * <p>On disk, a directory replaced as a whole ({@link AtomicDirectory}): {@code state.json} (this record, the
 * data order of the current pass, the format version), {@code config.yaml} (the resolved config),
 * {@code trained.safetensors}, {@code optimizer.safetensors} and, with EMA, {@code ema.safetensors}.
 */
public record TrainingState(long seed, long step, Position next, double lossEma, List<String> lastCaptions,
                            long[] lastShape, List<Report.SavePoint> saves, Fingerprint fingerprint, double valLoss) {

    public static final int FORMAT_VERSION = 1;
    static final String JSON = "state.json", CONFIG = "config.yaml", TRAINED = "trained.safetensors",
            OPTIMIZER = "optimizer.safetensors", EMA = "ema.safetensors";
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Where the next optimizer step starts: its pass and its index in the pass. */
    public record Position(int pass, int batch) {}

    /**
     * What a state may only be continued with: the same base model, trained set, dataset and held-out validation
     * samples ({@code validation}: their keys, empty without validation; null in states written before it existed).
     */
    public record Fingerprint(String model, String trained, List<String> dataset, List<String> validation) {}

    public TrainingState {
        lastCaptions = List.copyOf(lastCaptions);
        saves = List.copyOf(saves);
    }

    static TrainingState start(long seed, Fingerprint fingerprint) {
        return new TrainingState(seed, 0, new Position(0, 0), Double.NaN, List.of(), null, List.of(), fingerprint, Double.NaN);
    }

    /** The state after one more optimizer step on {@code batch}, the next step starting at {@code next}. */
    TrainingState after(StepBatch batch, float loss, Position next) {
        double ema = Double.isNaN(lossEma) ? loss : 0.9 * lossEma + 0.1 * loss;
        List<String> captions = batch.samples().stream().map(s -> s.caption()).toList();
        return new TrainingState(seed, step + 1, next, ema, captions, batch.samples().get(0).shape(), saves, fingerprint,
                valLoss);
    }

    TrainingState withSave(Report.SavePoint save) {
        List<Report.SavePoint> all = new ArrayList<>(saves);
        all.add(save);
        return new TrainingState(seed, step, next, lossEma, lastCaptions, lastShape, all, fingerprint, valLoss);
    }

    /** The state with the validation loss just computed. */
    TrainingState withValLoss(double loss) {
        return new TrainingState(seed, step, next, lossEma, lastCaptions, lastShape, saves, fingerprint, loss);
    }

    /** Whether the last step ended a pass (the next one starts a new pass). */
    boolean atPassStart() {
        return next.batch() == 0;
    }

    /** The file layout of state.json. */
    private record Stored(int formatVersion, long seed, long step, Position next, String lossEma,
                          List<String> lastCaptions, long[] lastShape, List<StoredSave> saves, Fingerprint fingerprint,
                          List<List<String>> order, String valLoss) {}

    private record StoredSave(int epoch, long step, List<String> images, List<String> prompts) {}

    /**
     * Writes the state to {@code dir}, replacing it as a whole. {@code order} is the current pass's batches as
     * keys; the tensors are the trained ones, the optimizer's state and the EMA's averages (null without EMA).
     */
    void write(Path dir, String configYaml, List<List<String>> order, Map<String, NDArray> trained,
               Map<String, NDArray> optimizer, Map<String, NDArray> ema) throws IOException {
        List<StoredSave> s = saves.stream().map(p -> new StoredSave(p.epoch(), p.step(),
                p.images().stream().map(Path::toString).toList(), p.prompts())).toList();
        Stored stored = new Stored(FORMAT_VERSION, seed, step, next, Double.toString(lossEma), lastCaptions, lastShape,
                s, fingerprint, order, Double.toString(valLoss));
        AtomicDirectory.replace(dir, tmp -> {
            SafeTensorsWriter.writeArrays(tmp.resolve(TRAINED), trained, Map.of("format", "pt"), null);
            SafeTensorsWriter.writeArrays(tmp.resolve(OPTIMIZER), optimizer, Map.of("format", "pt"), null);
            if (ema != null) SafeTensorsWriter.writeArrays(tmp.resolve(EMA), ema, Map.of("format", "pt"), null);
            Files.writeString(tmp.resolve(CONFIG), configYaml);
            MAPPER.writeValue(tmp.resolve(JSON).toFile(), stored);
        });
    }

    /** A state read from disk, its tensors still in the files. */
    public record Loaded(Path dir, TrainingState state, String configYaml, List<List<String>> order) {

        /** Copies the saved values into the trained tensors, the optimizer and the EMA (all must match). */
        void restore(Map<String, NDArray> trained, sdtrainer.train.optim.Optimizer optimizer, Ema ema, NDManager manager)
                throws IOException {
            try (NDManager tmp = manager.newSubManager()) {
                Map<String, NDArray> values = tensors(dir.resolve(TRAINED), tmp);
                List<String> problems = new ArrayList<>();
                for (Map.Entry<String, NDArray> e : trained.entrySet()) {
                    NDArray v = values.get(e.getKey());
                    if (v == null) problems.add(e.getKey() + " is missing");
                    else if (!v.getShape().equals(e.getValue().getShape())) {
                        problems.add(e.getKey() + " is " + v.getShape() + " in the state, " + e.getValue().getShape() + " here");
                    }
                }
                values.keySet().stream().filter(k -> !trained.containsKey(k)).limit(5)
                        .forEach(k -> problems.add(k + " is trained in the state but not by this run"));
                if (!problems.isEmpty()) {
                    throw new StateMismatchException(dir + ": the trained tensors differ: "
                            + String.join("; ", problems.subList(0, Math.min(5, problems.size()))));
                }
                try (sdtrainer.nn.NoGrad ignored = new sdtrainer.nn.NoGrad()) {
                    trained.forEach((k, p) -> p.set(new ai.djl.ndarray.index.NDIndex("..."),
                            values.get(k).toDevice(p.getDevice(), false)));
                }
                optimizer.loadStateDict(tensors(dir.resolve(OPTIMIZER), tmp));
                Path emaFile = dir.resolve(EMA);
                if (ema != null) {
                    if (!Files.isRegularFile(emaFile)) {
                        throw new StateMismatchException(dir + " holds no EMA (it was saved without --ema_decay)");
                    }
                    ema.load(tensors(emaFile, tmp));
                }
            }
        }

        private static Map<String, NDArray> tensors(Path file, NDManager m) throws IOException {
            Map<String, NDArray> out = new LinkedHashMap<>();
            try (SafeTensors st = SafeTensors.open(file)) {
                for (String name : st.names()) out.put(name, st.load(name, m).duplicate());
            }
            return out;
        }
    }

    /** Reads the state in {@code dir} (or the complete copy a killed save left beside it). */
    public static Loaded read(Path dir) throws IOException {
        Path found = AtomicDirectory.current(dir);
        if (found == null || !Files.isRegularFile(found.resolve(JSON))) {
            throw new StateMismatchException(dir + " is not a training state (no " + JSON + "); --resume takes the "
                    + "<output>-state directory that --save_state writes");
        }
        Stored s;
        try {
            s = MAPPER.readValue(found.resolve(JSON).toFile(), Stored.class);
        } catch (IOException e) {
            throw new StateMismatchException(found.resolve(JSON) + " cannot be read: " + e.getMessage());
        }
        if (s.formatVersion() != FORMAT_VERSION) {
            throw new StateMismatchException(found + " has state format " + s.formatVersion() + "; this build reads "
                    + FORMAT_VERSION);
        }
        List<Report.SavePoint> saves = s.saves().stream().map(p -> new Report.SavePoint(p.epoch(), p.step(),
                p.images().stream().map(Path::of).toList(), p.prompts())).toList();
        TrainingState state = new TrainingState(s.seed(), s.step(), s.next(), Double.parseDouble(s.lossEma()),
                s.lastCaptions(), s.lastShape(), saves, s.fingerprint(),
                s.valLoss() == null ? Double.NaN : Double.parseDouble(s.valLoss()));
        return new Loaded(found, state, Files.readString(found.resolve(CONFIG)), s.order());
    }

    /** A state that cannot be continued by this run (exit 2); the message names what differs. */
    public static final class StateMismatchException extends IOException {
        public StateMismatchException(String message) {
            super(message);
        }
    }
}
