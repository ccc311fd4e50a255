package sdtrainer.cli;

import ai.djl.Device;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.NetworkType;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.AspectDataset;
import sdtrainer.data.SimpleDataset;
import sdtrainer.data.TrainingData;
import sdtrainer.network.Network;
import sdtrainer.network.NetworkFactory;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.train.Trainer;

import java.io.IOException;

/** One training run from a validated config: model and data loaded, then the loop, with graceful interruption. */
final class TrainingRun {
    private final StableDiffusion sd;
    private final Trainer trainer;

    private TrainingRun(StableDiffusion sd, Trainer trainer) {
        this.sd = sd;
        this.trainer = trainer;
    }

    static TrainingRun prepare(TrainConfig given, Device device) throws IOException {
        // one seed for the whole run (network init, order, noise), logged so a run can be repeated
        TrainConfig cfg = given.seed().isPresent() ? given
                : ConfigLoader.merge(given, java.util.Map.of("seed", new java.security.SecureRandom().nextLong()));
        StableDiffusion sd = StableDiffusion.load(new ModelSource(cfg.model().orElseThrow(), cfg.modelConfig(),
                cfg.vPredictionChoice()), device);
        try {
            int f = sd.vae().config.downsamplingFactor();
            TrainingData data = cfg.useBucket()
                    ? new AspectDataset(cfg.dataset().orElseThrow(), cfg.mask(), f, sd.vae().config.latentChannels())
                    : new SimpleDataset(cfg.dataset().orElseThrow(), cfg.resolution().width(), cfg.resolution().height());
            int needed = f * sd.unet().config.downsamplingFactor();
            if (!cfg.useBucket() && (cfg.resolution().width() % needed != 0 || cfg.resolution().height() % needed != 0)) {
                throw new IOException("--resolution " + cfg.resolution() + " must be a multiple of " + needed + " for this model");
            }
            return new TrainingRun(sd, new Trainer(cfg, sd, data, network(cfg, sd), System.err, System.console() != null));
        } catch (IOException | RuntimeException e) {
            sd.close();
            throw e;
        }
    }

    /** The adapter network to train (attached, resumed from --resume_lora when given), or null for a full fine-tune. */
    private static Network network(TrainConfig cfg, StableDiffusion sd) throws IOException {
        boolean eh = cfg.network() == NetworkType.EH;
        if (!eh && cfg.lora() == 0) return null;
        long seed = cfg.seed().orElseThrow();
        Network n = NetworkFactory.create(sd, eh ? "eh" : "lora", cfg.lora(), cfg.loraAlpha(), cfg.convDim(), cfg.convAlpha(),
                cfg.ehGroups(), cfg.upOnly(), cfg.trainEncoder(), sd.manager(), seed);
        if (cfg.resumeLora().isPresent()) n.loadWeights(cfg.resumeLora().get());
        n.attach();
        return n;
    }

    /** Trains and reports; Ctrl-C stops after the current step and saves. The model is closed at the end. */
    <T> T execute(java.util.function.Function<Trainer.Summary, T> finish) throws IOException, InterruptedException {
        try {
            return trainer.runUntilShutdown(finish);
        } finally {
            sd.close();
        }
    }
}
