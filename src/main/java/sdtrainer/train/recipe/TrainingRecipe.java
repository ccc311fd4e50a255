package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.CaptionRecipe;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.ClipTokenizer;
import sdtrainer.model.clip.LongPromptEncoder;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.StableDiffusionXL;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The recipe pieces a config asks for, each chosen once here: one line per option, so the loop only applies
 * lists of pieces. Options left at their defaults give the plain sd-trainer step.
 */
public final class TrainingRecipe {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingRecipe.class);
    private final TrainConfig cfg;

    public TrainingRecipe(TrainConfig cfg) {
        this.cfg = cfg;
    }

    /** Noise reshapers in kohya's order: offset, then pyramid. */
    public List<NoiseTransform> noiseTransforms() {
        List<NoiseTransform> out = new ArrayList<>();
        cfg.noiseOffset().ifPresent(x -> out.add(new NoiseOffset(x,
                cfg.adaptiveNoiseScale().isPresent() ? cfg.adaptiveNoiseScale().getAsDouble() : null)));
        cfg.multiresNoiseIterations().ifPresent(n -> out.add(new PyramidNoise(n, cfg.multiresNoiseDiscount())));
        return out;
    }

    /** The noise (also the epsilon target) after every transform. */
    public NDArray noise(NDArray latents, NDArray gaussian, Draws draws) {
        NDArray noise = gaussian;
        for (NoiseTransform t : noiseTransforms()) noise = t.apply(latents, noise, draws);
        return noise;
    }

    public Optional<InputPerturbation> inputPerturbation() {
        return cfg.ipNoiseGamma().isPresent() && cfg.ipNoiseGamma().getAsDouble() > 0
                ? Optional.of(new InputPerturbation(cfg.ipNoiseGamma().getAsDouble())) : Optional.empty();
    }

    /** The schedule noise is added and samples are drawn with: the model's, rescaled under --zero_terminal_snr. */
    public NoiseSchedule trainingSchedule(NoiseSchedule loaded) {
        return cfg.zeroTerminalSnr() ? loaded.withZeroTerminalSnr() : loaded;
    }

    /**
     * The loss; SNR weights come from {@code original} (kohya caches them before the zero-terminal rescale), the
     * huber "snr" threshold from {@code training}.
     *
     * @throws IllegalArgumentException for --scale_v_pred_loss_like_noise_pred without v-prediction (kohya refuses too)
     */
    public RecipeLoss loss(NoiseSchedule original, NoiseSchedule training, boolean vPrediction) {
        if (cfg.zeroTerminalSnr() && !vPrediction) {
            LOG.warn("--zero_terminal_snr without v-prediction: at the last timestep an epsilon model sees no signal;"
                    + " train with --v_prediction (kohya warns the same)");
        }
        if (cfg.scaleVPredLossLikeNoisePred() && !vPrediction) {
            throw new IllegalArgumentException("--scale_v_pred_loss_like_noise_pred needs v-prediction: give --v_prediction"
                    + " or train a v_prediction model");
        }
        HuberThreshold threshold = cfg.lossType().usesHuberC()
                ? new HuberThreshold(cfg.huberSchedule(), cfg.huberC(), cfg.huberScale(), training) : null;
        SnrTable snr = new SnrTable(original);
        List<LossWeighting> weightings = new ArrayList<>();
        cfg.minSnrGamma().ifPresent(g -> weightings.add(new MinSnrWeighting(g, vPrediction, snr)));
        if (cfg.scaleVPredLossLikeNoisePred()) weightings.add(new VPredictionLikeNoiseScale(snr));
        if (cfg.debiasedEstimationLoss()) weightings.add(new DebiasedEstimation(vPrediction, snr));
        return new RecipeLoss(new ElementwiseLoss(cfg.lossType(), threshold), weightings);
    }

    public CaptionRecipe captions() {
        return new CaptionRecipe(cfg.captionPrefix().orElse(null), cfg.captionSuffix().orElse(null),
                cfg.captionDropoutRate(), cfg.shuffleCaption(), cfg.keepTokens(), cfg.captionSeparator(),
                cfg.captionTagDropoutRate());
    }

    /** @throws IllegalArgumentException when --clip_skip exceeds the text encoder's layers */
    public LongPromptEncoder promptEncoder(ClipTokenizer tokenizer, ClipTextModel textEncoder) {
        int maxTokens = cfg.maxTokenLength().orElse(0);
        return new LongPromptEncoder(tokenizer, textEncoder, maxTokens == tokenizer.maxLength() - 2 ? 0 : maxTokens,
                cfg.clipSkip().orElse(1));
    }

    /**
     * Sets the model's schedule (--zero_terminal_snr, for training and sample images) and prompt encoding
     * (--clip_skip, --max_token_length); returns the model's schedule as its config defines it, whose SNR the
     * loss weights keep (kohya caches it before rescaling).
     */
    public NoiseSchedule applyTo(DiffusionModel model) {
        NoiseSchedule original = new NoiseSchedule(model.schedule().config());
        model.useSchedule(trainingSchedule(original));
        if (model instanceof StableDiffusion sd) sd.usePromptEncoder(promptEncoder(sd.tokenizer(), sd.textEncoder()));
        // SDXL takes no --clip_skip (refused before the model loads, as kohya's SDXL scripts do not support it)
        if (model instanceof StableDiffusionXL xl) xl.useMaxTokenLength(cfg.maxTokenLength().orElse(0));
        return original;
    }

    /** The problems of captions that cannot keep --keep_tokens tags in front: one line for all of them. */
    public Optional<String> captionProblem(List<String> captions) {
        CaptionRecipe recipe = captions();
        List<String> short_ = captions.stream().filter(c -> recipe.problem(c).isPresent()).toList();
        if (short_.isEmpty()) return Optional.empty();
        return Optional.of(short_.size() + " caption(s) have fewer tags than --keep_tokens " + cfg.keepTokens()
                + ", e.g. '" + short_.get(0) + "': " + recipe.problem(short_.get(0)).orElseThrow());
    }
}
