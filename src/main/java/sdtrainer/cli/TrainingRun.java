package sdtrainer.cli;

import ai.djl.Device;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.NetworkType;
import sdtrainer.config.TrainConfig;
import sdtrainer.io.OutputLock;
import sdtrainer.io.SaveLeftovers;
import sdtrainer.network.Network;
import sdtrainer.network.NetworkFactory;
import sdtrainer.network.SdxlNetworks;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.StableDiffusionXL;
import sdtrainer.train.Trainer;

import java.io.IOException;
import java.util.function.Consumer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * One training run from a validated config: the output locked and cleared of interrupted saves, the inputs
 * checked, model and data loaded, then the loop, with graceful interruption.
 */
final class TrainingRun {
    private final OutputLock lock;
    private final DiffusionModel sd;
    private final Trainer trainer;

    private TrainingRun(OutputLock lock, DiffusionModel sd, Trainer trainer) {
        this.lock = lock;
        this.sd = sd;
        this.trainer = trainer;
    }

    /**
     * Takes the output's lock (a second run on the same output is refused), removes what interrupted saves left
     * beside it, checks the inputs and loads them; {@code notices} gets one line for each thing done or doubtful.
     *
     * @throws InputException for a held lock and any defect of the model, dataset or adapter file
     */
    static TrainingRun prepare(TrainConfig given, Device device, Consumer<String> notices) throws InputException, IOException {
        // one seed for the whole run (network init, order, noise), logged so a run can be repeated
        TrainConfig cfg = given.seed().isPresent() ? given
                : ConfigLoader.merge(given, Map.of("seed", new java.security.SecureRandom().nextLong()));
        Path output = cfg.output().orElseThrow();
        Files.createDirectories(output.toAbsolutePath().getParent());
        OutputLock lock;
        try {
            lock = OutputLock.acquire(output);
        } catch (OutputLock.HeldException e) {
            throw new InputException("--output " + e.getMessage(), e);
        }
        DiffusionModel sd = null;
        try {
            lock.staleOwner().ifPresent(owner -> notices.accept("took over the lock " + lock.file()
                    + " of a run that ended without releasing it (" + owner + ")"));
            SaveLeftovers.clean(output).forEach(notices);
            RunInputs inputs = RunInputs.check(cfg, device);
            inputs.warnings().forEach(w -> notices.accept("warning: " + w));
            sd = ModelInputs.loadAnyFamily(new ModelSource(cfg.model().orElseThrow(), cfg.modelConfig(), cfg.vPredictionChoice()),
                    device);
            Trainer trainer = new Trainer(cfg, sd, inputs.data(), network(cfg, sd), System.err, System.console() != null);
            trainer.validateOn(inputs.heldOut());
            return new TrainingRun(lock, sd, trainer);
        } catch (InputException | IOException | RuntimeException e) {
            if (sd != null) sd.close();
            lock.close();
            throw e;
        }
    }

    /** The adapter network to train (attached, resumed from --resume_lora when given), or null for a full fine-tune. */
    private static Network network(TrainConfig cfg, DiffusionModel model) throws InputException {
        boolean eh = cfg.network() == NetworkType.EH;
        if (!eh && cfg.lora() == 0) return null;
        long seed = cfg.seed().orElseThrow();
        try {
            // SDXL: LoRA / LoCon with kohya's SDXL names, or EH over the UNet (RunInputs refuses EH of its encoders)
            Network n = model instanceof StableDiffusionXL xl
                    ? (eh ? SdxlNetworks.createEh(xl, cfg.ehGroups(), cfg.upOnly(), xl.manager())
                    : SdxlNetworks.createLora(xl, cfg.lora(), cfg.loraAlpha(), cfg.convDim(), cfg.convAlpha(), cfg.upOnly(),
                    cfg.trainEncoder(), xl.manager(), seed))
                    : NetworkFactory.create((StableDiffusion) model, eh ? "eh" : "lora", cfg.lora(), cfg.loraAlpha(),
                    cfg.convDim(), cfg.convAlpha(), cfg.ehGroups(), cfg.upOnly(), cfg.trainEncoder(), model.manager(), seed);
            if (cfg.resumeLora().isPresent()) n.loadWeights(cfg.resumeLora().get());
            n.attach();
            return n;
        } catch (IOException e) {
            throw new InputException("--resume_lora " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new InputException(e.getMessage(), e);
        }
    }

    /**
     * Trains and reports; Ctrl-C stops after the current step and saves. The model and the lock are released
     * before {@code finish} runs: after a Ctrl-C the JVM exits as soon as the run has reported, so a release
     * after that would never happen and leave a stale lock.
     */
    <T> T execute(java.util.function.Function<Trainer.Summary, T> finish) throws IOException, InterruptedException {
        try {
            return trainer.runUntilShutdown(summary -> {
                try {
                    release();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return finish.apply(summary);
            });
        } finally {
            release();
        }
    }

    private boolean released;

    private void release() throws IOException {
        if (released) return;
        released = true;
        try {
            sd.close();
        } finally {
            lock.close();
        }
    }
}
