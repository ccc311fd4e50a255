package sdtrainer.cli;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import sdtrainer.config.NetworkType;
import sdtrainer.config.OnBadSample;
import sdtrainer.config.SaveFormat;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.AspectDataset;
import sdtrainer.data.SimpleDataset;
import sdtrainer.data.TrainingData;
import sdtrainer.io.SafeTensors;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.train.HeldOut;
import sdtrainer.train.TrainingState;
import sdtrainer.train.recipe.TrainingRecipe;

/**
 * Everything a run checks before the model's weights load, from the model's config files, the dataset and the
 * adapter file: --dry_run and the real run both go through here, so a dry run passes only what the run accepts.
 * Each defect is an {@link InputException} (exit code 2).
 */
final class RunInputs {
    private final TrainingData data;
    private final HeldOut heldOut;
    private final List<String> warnings;

    private RunInputs(TrainingData data, HeldOut heldOut, List<String> warnings) {
        this.data = data;
        this.heldOut = heldOut;
        this.warnings = warnings;
    }

    /** The validation samples (already taken out of {@link #data()} for a split), or null without validation. */
    HeldOut heldOut() {
        return heldOut;
    }

    /** The checked dataset, its bad samples still in (the trainer drops them under --on_bad_sample skip). */
    TrainingData data() {
        return data;
    }

    /** What the run will warn about (empty captions, samples to be skipped), one line each. */
    List<String> warnings() {
        return warnings;
    }

    static RunInputs check(TrainConfig cfg, Device device) throws InputException {
        Path model;
        try {
            // a single file's configs come from --model_config or the shipped ones of its family
            ModelSource source = new ModelSource(cfg.model().orElseThrow(), cfg.modelConfig(), cfg.vPredictionChoice());
            model = source.singleFile() ? source.configDir(source.family()) : source.model();
            ModelDirectory.check(model);
        } catch (IOException e) {
            throw new InputException("--model " + e.getMessage(), e);
        }
        UNetConfig unetConfig = component(model, ModelDirectory.UNET, UNetConfig::from, UNet2DConditionModel::new);
        VaeConfig vaeConfig = component(model, ModelDirectory.VAE, VaeConfig::from, AutoencoderKL::new);
        ClipTextConfig teConfig = component(model, ModelDirectory.TEXT_ENCODER, ClipTextConfig::from, ClipTextModel::new);
        if (ModelDirectory.isSdxl(model)) sdxlOptions(cfg, model);
        else if (cfg.cacheTextEncoderOutputs()) {
            throw new InputException("--cache_text_encoder_outputs is for SDXL models; " + model + " is not one");
        }
        if (cfg.clipSkip().orElse(1) > teConfig.numHiddenLayers()) {
            throw new InputException("--clip_skip " + cfg.clipSkip().getAsInt() + " is more than the " + teConfig.numHiddenLayers()
                    + " layers of the text encoder (" + model.resolve(ModelDirectory.TEXT_ENCODER) + "); give 1 to "
                    + teConfig.numHiddenLayers());
        }
        int f = vaeConfig.downsamplingFactor();
        int needed = f * unetConfig.downsamplingFactor();
        if (!cfg.useBucket() && (cfg.resolution().width() % needed != 0 || cfg.resolution().height() % needed != 0)) {
            throw new InputException("--resolution " + cfg.resolution() + " must be a multiple of " + needed
                    + " for this model (VAE factor " + f + " times the UNet's " + unetConfig.downsamplingFactor() + ")");
        }
        if (cfg.network() == NetworkType.LORA && cfg.lora() > 0) {
            checkRank(cfg, device, model, unetConfig, vaeConfig, teConfig);
        }
        TrainingData data = dataset(cfg, cfg.dataset().orElseThrow(), f, vaeConfig.latentChannels());
        List<String> warnings = new ArrayList<>(data.warnings());
        List<String> problems = data.problems();
        Path dir = cfg.dataset().orElseThrow();
        if (!problems.isEmpty() && cfg.onBadSample() == OnBadSample.FAIL) {
            throw new InputException(problems.size() + " bad sample(s) in " + dir
                    + " (use --on_bad_sample skip to train without them):\n  " + String.join("\n  ", problems));
        }
        if (problems.size() >= data.size()) {
            throw new InputException("no usable samples in " + dir + ": every one is bad:\n  " + String.join("\n  ", problems));
        }
        problems.forEach(p -> warnings.add("will skip " + p));
        Optional<String> short_ = new TrainingRecipe(cfg).captionProblem(data.captions());
        if (short_.isPresent()) throw new InputException("--dataset " + dir + ": " + short_.get());
        HeldOut heldOut;
        try {
            heldOut = HeldOut.of(cfg, data, runSeed(cfg), other -> {
                try {
                    return dataset(cfg, other, f, vaeConfig.latentChannels());
                } catch (InputException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }).orElse(null);
        } catch (IOException e) {
            throw new InputException(e.getMessage(), e);
        }
        return new RunInputs(data, heldOut, warnings);
    }

    /** The options SDXL training does not have, each refused with the option's name. */
    private static void sdxlOptions(TrainConfig cfg, Path model) throws InputException {
        if (cfg.network() == NetworkType.EH && cfg.trainEncoder()) {
            throw new InputException("--network eh adapts only the UNet of an SDXL model (" + cfg.model().orElseThrow()
                    + "); drop --train_encoder or use --lora");
        }
        if (cfg.clipSkip().isPresent()) {
            throw new InputException("--model " + cfg.model().orElseThrow() + " is an SDXL model: --clip_skip is not supported"
                    + " for SDXL (it conditions on the penultimate layer of both encoders, as kohya's SDXL scripts do)");
        }
        if (cfg.cacheTextEncoderOutputs() && cfg.trainEncoder()) {
            throw new InputException("--cache_text_encoder_outputs needs frozen text encoders: drop --train_encoder");
        }
    }

    /**
     * A component's config, read as the loader will read it, and its empty modules built from it (which runs the
     * config's consistency checks without loading a weight); any defect names the file.
     */
    private static <T> T component(Path model, String name, Function<JsonNode, T> parse, Consumer<T> build)
            throws InputException {
        Path file = model.resolve(name).resolve("config.json");
        try {
            T config = parse.apply(ModelDirectory.config(model, name));
            build.accept(config);
            return config;
        } catch (IOException e) {
            throw new InputException(e.getMessage(), e);
        } catch (RuntimeException e) {
            // our own checks say what is wrong in words; anything else is named by its type
            String why = e instanceof IllegalArgumentException ? e.getMessage() : e.toString();
            throw new InputException(file + ": describes no " + name + " this tool can build (" + why + ")", e);
        }
    }

    /** The rank against the model's layers and the memory it implies; then against --resume_lora's rank. */
    private static void checkRank(TrainConfig cfg, Device device, Path model, UNetConfig unetConfig, VaeConfig vaeConfig,
                                  ClipTextConfig teConfig) throws InputException {
        UNet2DConditionModel unet = new UNet2DConditionModel(unetConfig);
        ClipTextModel te = new ClipTextModel(teConfig);
        long modelParameters = unet.parameterCount() + te.parameterCount() + new AutoencoderKL(vaeConfig).parameterCount();
        LoraBudget budget = LoraBudget.of(unet, cfg.trainEncoder() ? te : null, cfg.upOnly(), modelParameters);
        Optional<String> problem = budget.problem(cfg.lora(), LoraBudget.availableBytes(device),
                device.isGpu() ? "the GPU" : "this machine");
        if (problem.isPresent()) throw new InputException(problem.get());
        if (cfg.resumeLora().isEmpty()) return;
        Path file = cfg.resumeLora().get();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String name : st.names()) {
                if (!name.endsWith(".lora_down.weight")) continue;
                long rank = st.info(name).shape()[0];
                if (rank != cfg.lora()) {
                    throw new InputException("--resume_lora " + file + ": rank " + rank + " in the file, --lora " + cfg.lora()
                            + " given; give --lora " + rank + " to continue training it");
                }
                return;
            }
        } catch (IOException e) {
            throw new InputException("--resume_lora " + e.getMessage(), e);
        }
    }

    /**
     * The seed of the validation split: --validation_seed, else the state's seed when resuming (the run continues
     * with it), else --seed (0 in a dry run without one: the split's size does not depend on it).
     */
    private static long runSeed(TrainConfig cfg) throws InputException {
        if (cfg.validationSeed().isPresent()) return cfg.validationSeed().getAsLong();
        if (cfg.resume().isPresent()) {
            try {
                return TrainingState.read(cfg.resume().get()).state().seed();
            } catch (IOException e) {
                throw new InputException("--resume " + e.getMessage(), e);
            }
        }
        return cfg.seed().orElse(0);
    }

    private static TrainingData dataset(TrainConfig cfg, Path dir, int factor, int channels) throws InputException {
        String option = dir.equals(cfg.dataset().orElse(null)) ? "--dataset " : "--validation_dataset ";
        try {
            return cfg.useBucket()
                    ? new AspectDataset(dir, cfg.mask(), factor, channels)
                    : new SimpleDataset(dir, cfg.resolution().width(), cfg.resolution().height());
        } catch (IOException e) {
            throw new InputException(option + e.getMessage(), e);
        }
    }
}
