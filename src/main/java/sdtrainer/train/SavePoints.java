package sdtrainer.train;

import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.TrainingData;
import sdtrainer.io.DType;
import sdtrainer.log.MetricsLog;
import sdtrainer.log.Report;
import sdtrainer.log.TensorBoardWriter;
import sdtrainer.log.Wandb;
import sdtrainer.network.Network;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.train.optim.Optimizer;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * What a save point writes, in this order so a kill leaves the previous complete output: the trained weights
 * atomically (the adapter as {@code <output>.safetensors} with kohya's metadata, or the whole model as a diffusers
 * directory), the EMA weights beside them, the sample images (drawn with the EMA weights when EMA is on),
 * report.html, the W&B sync, and with --save_state the training state.
 */
final class SavePoints {
    private static final Logger LOG = LoggerFactory.getLogger(SavePoints.class);

    /** The original sd-trainer's negative prompt for sample images. */
    static final String DEFAULT_NEGATIVE = "worst quality, low quality, medium quality, deleted, lowres, comic, "
            + "bad anatomy,bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, jpeg artifacts, "
            + "signature, watermark, username, blurry";
    static final long SAMPLE_SEED = 4545;
    static final float SAMPLE_GUIDANCE = 7.5f;

    /** Facts of the run every save records. */
    record Run(TrainConfig cfg, String configYaml, Path logDir, Instant startedAt, TrainingPlan plan, boolean vPrediction,
               int sampleSteps) {}

    private final Run run;
    private final DiffusionModel sd;
    private final Trainables trainables;
    private final Optimizer optimizer;
    private final Ema ema;
    private final TrainingData data;
    private final Path output;
    private final Path imageLog;
    private final RunMetadata metadata;
    private SampleImages sampleImages;

    SavePoints(Run run, DiffusionModel sd, Trainables trainables, Optimizer optimizer, Ema ema, TrainingData data) {
        this.run = run;
        this.sd = sd;
        this.trainables = trainables;
        this.optimizer = optimizer;
        this.ema = ema;
        this.data = data;
        boolean sdxl = sd.unet().config.textTimeConditioning();
        this.metadata = new RunMetadata(run.cfg(), run.plan(), data, new RunMetadata.Base(run.cfg().model().orElseThrow(),
                !sdxl && sd.unet().config.crossAttentionDim() == 1024, sdxl, run.vPrediction(), sd.schedule().numTrainTimesteps()),
                run.startedAt());
        this.output = run.cfg().output().orElseThrow();
        this.imageLog = run.cfg().imageLog().orElseThrow();
    }

    /** The directory --save_state writes: {@code <output>-state}. */
    static Path stateDir(Path output) {
        return output.resolveSibling(output.getFileName() + "-state");
    }

    /**
     * A full save point after {@code state}'s last step; {@code epochsDone} labels it (see {@link #samples}).
     * Returns the state with this save recorded.
     */
    TrainingState save(TrainingState state, int epochsDone, TensorBoardWriter tb, Supplier<List<List<String>>> order)
            throws IOException {
        DType precision = switch (run.cfg().savePrecision()) {
            case FP16 -> DType.F16;
            case BF16 -> DType.BF16;
            case FP32 -> DType.F32;
        };
        Network network = trainables.network();
        writeWeights(network, output, "", state, epochsDone, precision);
        Report.SavePoint drawn;
        if (ema != null) {
            try (AutoCloseable swapped = ema.swappedIn()) {
                Path emaOut = output.resolveSibling(output.getFileName() + "-ema");
                writeWeights(network, emaOut, " (EMA)", state, epochsDone, precision);
                LOG.info("sample images of this save use the EMA weights");
                drawn = samples(state, epochsDone, tb);
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
        } else {
            drawn = samples(state, epochsDone, tb);
        }
        TrainingState saved = state.withSave(drawn);
        Report.write(output, output.resolve(MetricsLog.FILE_NAME), saved.saves(), run.configYaml());
        if (run.cfg().wandb()) Wandb.syncIfAvailable(run.logDir());
        if (run.cfg().saveState()) saveState(saved, order);
        return saved;
    }

    /** Writes the training state alone (--save_state_every_n_steps). */
    void saveState(TrainingState state, Supplier<List<List<String>>> order) throws IOException {
        Path dir = stateDir(output);
        try (NDManager scalars = sd.manager().newSubManager()) {
            state.write(dir, run.configYaml(), order.get(), trainables.tensors(), optimizer.stateDict(scalars),
                    ema == null ? null : ema.tensors());
        }
        LOG.info("saved training state to {} (step {})", dir, state.step());
    }

    private void writeWeights(Network network, Path out, String what, TrainingState state, int epochsDone, DType precision)
            throws IOException {
        if (network != null) {
            Path file = out.resolveSibling(out.getFileName() + ".safetensors");
            network.save(file, metadata.at(state.seed(), epochsDone, state.step(), out.getFileName().toString(), Instant.now()),
                    precision);
            LOG.info("saved {}{} to {} (epoch {}, step {})", run.cfg().network(), what, file, epochsDone, state.step());
        } else if (run.cfg().saveFormat() == sdtrainer.config.SaveFormat.SINGLE_FILE) {
            Path file = out.resolveSibling(out.getFileName() + ".safetensors");
            sd.saveSingleFile(file, precision);
            LOG.info("saved model{} to {} (epoch {}, step {})", what, file, epochsDone, state.step());
        } else {
            sd.save(out, precision);
            LOG.info("saved model{} to {} (epoch {}, step {})", what, out, epochsDone, state.step());
        }
    }

    /** Whether this step is a sample point besides the saves (--sample_every_n_steps, --sample_every_n_epochs). */
    boolean samplesDue(TrainingState state) throws IOException {
        SampleImages s = sampleImages();
        if (s.dueAfterStep(state.step())) return true;
        if (!state.atPassStart()) return false;
        int pass = state.next().pass() - 1;
        return s.dueAfterEpochs(pass * run.plan().repeat() + 1, (pass + 1) * run.plan().repeat(), state.step());
    }

    /** --sample_at_first: samples of the base model before step 1. */
    boolean samplesAtFirst(TrainingState state) throws IOException {
        return state.step() == 0 && sampleImages().dueAtStart();
    }

    /** Draws the samples of a point that saves no weights, adding them to the report; returns the state with them. */
    TrainingState drawSamples(TrainingState state, TensorBoardWriter tb) throws IOException {
        TrainingState drawn = state.withSave(samples(state, run.plan().epochsAfter(state.next().pass()), tb));
        Report.write(output, output.resolve(MetricsLog.FILE_NAME), drawn.saves(), run.configYaml());
        return drawn;
    }

    private SampleImages sampleImages() throws IOException {
        if (sampleImages == null) sampleImages = SampleImages.from(run.cfg(), imageLog, run.sampleSteps());
        return sampleImages;
    }

    /** A save inside a pass (a stop, a step point) is labelled by its step, so it never replaces an epoch's images. */
    private Report.SavePoint samples(TrainingState state, int epochsDone, TensorBoardWriter tb) throws IOException {
        int f = sd.vae().config.downsamplingFactor();
        int w = run.cfg().resolution().width(), h = run.cfg().resolution().height();
        long[] shape = state.lastShape();
        if (shape != null && shape[0] != 3) {
            // bucketed latents: sample at the bucket's pixel size
            w = (int) shape[2] * f;
            h = (int) shape[1] * f;
        }
        return sampleImages().draw(sd, epochsDone, state.step(), state.atPassStart() && state.step() > 0,
                state.lastCaptions(), w, h, tb);
    }

    /** kohya's ss_* metadata, so A1111, ComfyUI and kohya's tools recognise the file. */
}
