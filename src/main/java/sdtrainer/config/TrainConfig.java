package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import picocli.CommandLine.Option;

/**
 * Every training option, with the original sd-trainer's defaults. Each field is both a command-line
 * option {@code --key} and a config-file key {@code key}, spelled the same so existing scripts and
 * files keep working; one declaration serves picocli (parsing, help) and Jackson (config files).
 *
 * <p>Values arrive through picocli or {@link ConfigLoader}; nothing else writes them. The typed
 * accessors ({@link #resolution()}, {@link #learningRates()}, {@link #stepRange()}) throw on
 * malformed text, so call them after {@link ConfigValidator} has passed the config.
 */
@JsonAutoDetect(fieldVisibility = Visibility.NONE, getterVisibility = Visibility.NONE,
        isGetterVisibility = Visibility.NONE, setterVisibility = Visibility.NONE,
        creatorVisibility = Visibility.NONE)
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class TrainConfig {

    @JsonProperty("model")
    @Option(names = "--model", paramLabel = "DIR", description = "diffusers model directory to train (required)")
    private Path model;

    @JsonProperty("dataset")
    @Option(names = "--dataset", paramLabel = "DIR", description = "dataset directory (required)")
    private Path dataset;

    @JsonProperty("output")
    @Option(names = "--output", paramLabel = "PATH", description = "where the trained weights are written (required)")
    private Path output;

    @JsonProperty("image_log")
    @Option(names = "--image_log", paramLabel = "DIR", description = "directory for sample images (required)")
    private Path imageLog;

    @JsonProperty("resolution")
    @JsonDeserialize(using = CommaListDeserializer.class)
    @Option(names = "--resolution", paramLabel = "W,H|N",
            description = "training image size; N for a square (default: ${DEFAULT-VALUE})")
    private String resolution = "512,512";

    @JsonProperty("batch_size")
    @Option(names = "--batch_size", paramLabel = "N", description = "images per optimizer step (default: ${DEFAULT-VALUE})")
    private int batchSize = 4;

    @JsonProperty("lr")
    @JsonDeserialize(using = CommaListDeserializer.class)
    @Option(names = "--lr", paramLabel = "LR|TE_LR,UNET_LR",
            description = "learning rate, or text encoder's and UNet's (default: ${DEFAULT-VALUE})")
    private String lr = "5e-6";

    @JsonProperty("lr_scheduler")
    @Option(names = "--lr_scheduler", paramLabel = "NAME",
            description = "learning-rate schedule: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private LrScheduler lrScheduler = LrScheduler.CONSTANT;

    @JsonProperty("train_encoder")
    @Option(names = "--train_encoder", negatable = true, description = "also train the text encoder")
    private boolean trainEncoder;

    @JsonProperty("epochs")
    @Option(names = "--epochs", paramLabel = "N", description = "passes over the dataset (default: ${DEFAULT-VALUE})")
    private int epochs = 10;

    @JsonProperty("save_n_epochs")
    @Option(names = "--save_n_epochs", paramLabel = "N",
            description = "save weights and sample images every N epochs (default: ${DEFAULT-VALUE})")
    private int saveNEpochs = 5;

    @JsonProperty("amp")
    @Option(names = "--amp", negatable = true, description = "mixed precision: frozen parts and forward pass in half precision")
    private boolean amp;

    @JsonProperty("gradient_checkpointing")
    @Option(names = "--gradient_checkpointing", negatable = true,
            description = "recompute activations during backward to save memory")
    private boolean gradientCheckpointing;

    @JsonProperty("lora")
    @Option(names = "--lora", paramLabel = "RANK", description = "adapter rank; 0 trains the full model (default: ${DEFAULT-VALUE})")
    private int lora;

    @JsonProperty("lora_alpha")
    @Option(names = "--lora_alpha", paramLabel = "ALPHA",
            description = "adapter alpha; updates are scaled by alpha/rank (default: ${DEFAULT-VALUE})")
    private double loraAlpha = 1.0;

    @JsonProperty("network")
    @Option(names = "--network", paramLabel = "TYPE",
            description = "adapter trained when --lora > 0: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private NetworkType network = NetworkType.LORA;

    @JsonProperty("eh_groups")
    @Option(names = "--eh_groups", paramLabel = "N", description = "groups of the EH adapter (default: ${DEFAULT-VALUE})")
    private int ehGroups = 4;

    @JsonProperty("use_bucket")
    @Option(names = "--use_bucket", negatable = true,
            description = "train on the aspect-ratio buckets and latents made by preprocess")
    private boolean useBucket;

    @JsonProperty("wandb")
    @Option(names = "--wandb", negatable = true, description = "log the run to Weights & Biases")
    private boolean wandb;

    @JsonProperty("up_only")
    @Option(names = "--up_only", negatable = true, description = "train only the UNet's up blocks")
    private boolean upOnly;

    @JsonProperty("v_prediction")
    @Option(names = "--v_prediction", negatable = true, description = "v-prediction target (SD 2.x models other than -base)")
    private boolean vPrediction;

    @JsonProperty("step_range")
    @JsonDeserialize(using = CommaListDeserializer.class)
    @Option(names = "--step_range", paramLabel = "A,B",
            description = "fractions of the timestep range to train on (default: ${DEFAULT-VALUE})")
    private String stepRange = "0,1";

    @JsonProperty("mask")
    @Option(names = "--mask", negatable = true, description = "weight the loss by the dataset's masks (needs --use_bucket)")
    private boolean mask;

    @JsonProperty("prompt")
    @Option(names = "--prompt", paramLabel = "TEXT", description = "prompt for sample images (default: the batch's captions)")
    private String prompt;

    @JsonProperty("minibatch_repeat")
    @Option(names = "--minibatch_repeat", paramLabel = "N",
            description = "repeat each mini-batch N times to fill batch_size (default: ${DEFAULT-VALUE})")
    private int minibatchRepeat = 1;

    @JsonProperty("resume_lora")
    @Option(names = "--resume_lora", paramLabel = "FILE", description = "adapter weights to continue training from")
    private Path resumeLora;

    @JsonProperty("seed")
    @Option(names = "--seed", paramLabel = "N", description = "random seed (default: a random one, logged)")
    private Long seed;

    @JsonProperty("device")
    @Option(names = "--device", paramLabel = "DEV", description = "cpu, cuda or cuda:N (default: cuda if the engine has a GPU, else cpu)")
    private String device;

    @JsonProperty("threads")
    @Option(names = "--threads", paramLabel = "N", description = "intra-op CPU threads; 0 = engine default (default: ${DEFAULT-VALUE})")
    private int threads;

    @JsonProperty("save_precision")
    @Option(names = "--save_precision", paramLabel = "TYPE",
            description = "weight type of saved files: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private SavePrecision savePrecision = SavePrecision.FP32;

    @JsonProperty("on_bad_sample")
    @Option(names = "--on_bad_sample", paramLabel = "ACTION",
            description = "unreadable dataset entry: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private OnBadSample onBadSample = OnBadSample.FAIL;

    @JsonProperty("log_dir")
    @Option(names = "--log_dir", paramLabel = "DIR", description = "directory for TensorBoard event files (default: none)")
    private Path logDir;

    // --- sample images at save points (issue 13: samplers and sample prompts) ---

    @JsonProperty("sample_prompts")
    @Option(names = "--sample_prompts", paramLabel = "FILE",
            description = "kohya-style prompt file (.txt lines with --n --w --h --s --l --d --ss, or .toml/.json) for sample images")
    private Path samplePrompts;

    @JsonProperty("sample_sampler")
    @Option(names = "--sample_sampler", paramLabel = "NAME",
            description = "sampler of sample images: ddim, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lms, heun, ddpm (default: ${DEFAULT-VALUE})")
    private String sampleSampler = "ddim";

    @JsonProperty("sample_every_n_steps")
    @Option(names = "--sample_every_n_steps", paramLabel = "N", description = "also draw samples every N optimizer steps (default: off)")
    private Integer sampleEveryNSteps;

    @JsonProperty("sample_every_n_epochs")
    @Option(names = "--sample_every_n_epochs", paramLabel = "N", description = "also draw samples every N epochs; they are always drawn at save points (default: off)")
    private Integer sampleEveryNEpochs;

    @JsonProperty("sample_at_first")
    @Option(names = "--sample_at_first", negatable = true, description = "draw samples before step 1: the base model's images to compare with")
    private boolean sampleAtFirst;

    // --- end of sample images ---

    // Long runs (issue 10): training state, resume, gradient accumulation, EMA, gradient clipping.

    @JsonProperty("save_state")
    @Option(names = "--save_state", negatable = true,
            description = "at every save and on Ctrl-C/SIGTERM, write the whole training state to <output>-state/")
    private boolean saveState;

    @JsonProperty("save_state_every_n_steps")
    @Option(names = "--save_state_every_n_steps", paramLabel = "N",
            description = "also write the training state every N optimizer steps; 0 = only at saves (default: ${DEFAULT-VALUE})")
    private int saveStateEveryNSteps;

    @JsonProperty("resume")
    @Option(names = "--resume", paramLabel = "DIR", description = "continue a run from the training state in DIR (<output>-state)")
    private Path resume;

    @JsonProperty("gradient_accumulation_steps")
    @Option(names = "--gradient_accumulation_steps", paramLabel = "N",
            description = "micro-batches of batch_size per optimizer step (default: ${DEFAULT-VALUE})")
    private int gradientAccumulationSteps = 1;

    @JsonProperty("ema_decay")
    @Option(names = "--ema_decay", paramLabel = "D",
            description = "keep an EMA of the trained weights with this decay, e.g. 0.999; 0 = off (default: ${DEFAULT-VALUE})")
    private double emaDecay;

    @JsonProperty("ema_warmup")
    @Option(names = "--ema_warmup", negatable = true, description = "EMA decay min(D, (1+step)/(10+step)), as diffusers' EMAModel")
    private boolean emaWarmup;

    @JsonProperty("ema_device")
    @Option(names = "--ema_device", paramLabel = "DEV",
            description = "where the EMA lives: same (the training device) or cpu (default: ${DEFAULT-VALUE})")
    private String emaDevice = "same";

    @JsonProperty("max_grad_norm")
    @Option(names = "--max_grad_norm", paramLabel = "X",
            description = "clip the global L2 norm of the gradients to X; 0 = off (default: ${DEFAULT-VALUE})")
    private double maxGradNorm;

    /** A config holding every default; picocli and Jackson fill in the rest. */
    public TrainConfig() {
    }

    public Optional<Path> model() {
        return Optional.ofNullable(model);
    }

    public Optional<Path> dataset() {
        return Optional.ofNullable(dataset);
    }

    public Optional<Path> output() {
        return Optional.ofNullable(output);
    }

    public Optional<Path> imageLog() {
        return Optional.ofNullable(imageLog);
    }

    /** @throws IllegalArgumentException when {@code resolution} is malformed (validation reports it first) */
    public Resolution resolution() {
        return Resolution.parse(resolution);
    }

    public int batchSize() {
        return batchSize;
    }

    /** @throws IllegalArgumentException when {@code lr} is malformed (validation reports it first) */
    public LearningRates learningRates() {
        return LearningRates.parse(lr);
    }

    public LrScheduler lrScheduler() {
        return lrScheduler;
    }

    public boolean trainEncoder() {
        return trainEncoder;
    }

    public int epochs() {
        return epochs;
    }

    public int saveNEpochs() {
        return saveNEpochs;
    }

    public boolean amp() {
        return amp;
    }

    public boolean gradientCheckpointing() {
        return gradientCheckpointing;
    }

    /** Adapter rank; 0 means full fine-tuning. */
    public int lora() {
        return lora;
    }

    public double loraAlpha() {
        return loraAlpha;
    }

    public NetworkType network() {
        return network;
    }

    public int ehGroups() {
        return ehGroups;
    }

    public boolean useBucket() {
        return useBucket;
    }

    public boolean wandb() {
        return wandb;
    }

    public boolean upOnly() {
        return upOnly;
    }

    public boolean vPrediction() {
        return vPrediction;
    }

    /** @throws IllegalArgumentException when {@code step_range} is malformed (validation reports it first) */
    public StepRange stepRange() {
        return StepRange.parse(stepRange);
    }

    public boolean mask() {
        return mask;
    }

    /** Prompt for sample images; empty means each sample uses a caption of the current batch. */
    public Optional<String> prompt() {
        return Optional.ofNullable(prompt);
    }

    /** Times each mini-batch of {@code batchSize / minibatchRepeat} images is repeated within a step. */
    public int minibatchRepeat() {
        return minibatchRepeat;
    }

    public Optional<Path> resumeLora() {
        return Optional.ofNullable(resumeLora);
    }

    public OptionalLong seed() {
        return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
    }

    /** {@code cpu}, {@code cuda} or {@code cuda:N}; empty means the engine's default device. */
    public Optional<String> device() {
        return Optional.ofNullable(device);
    }

    /** Intra-op threads; 0 keeps the engine's default. */
    public int threads() {
        return threads;
    }

    public SavePrecision savePrecision() {
        return savePrecision;
    }

    public OnBadSample onBadSample() {
        return onBadSample;
    }

    public Optional<Path> logDir() {
        return Optional.ofNullable(logDir);
    }

    // --- sample images at save points (issue 13) ---

    public Optional<Path> samplePrompts() {
        return Optional.ofNullable(samplePrompts);
    }

    public String sampleSampler() {
        return sampleSampler;
    }

    /** Empty: no step-based samples. */
    public OptionalInt sampleEveryNSteps() {
        return sampleEveryNSteps == null ? OptionalInt.empty() : OptionalInt.of(sampleEveryNSteps);
    }

    /** Empty: samples only at the save points (every --save_n_epochs) and the other sample options. */
    public OptionalInt sampleEveryNEpochs() {
        return sampleEveryNEpochs == null ? OptionalInt.empty() : OptionalInt.of(sampleEveryNEpochs);
    }

    public boolean sampleAtFirst() {
        return sampleAtFirst;
    }

    // --- end of sample images ---

    // Long runs (issue 10)

    public boolean saveState() {
        return saveState;
    }

    public int saveStateEveryNSteps() {
        return saveStateEveryNSteps;
    }

    public Optional<Path> resume() {
        return Optional.ofNullable(resume);
    }

    public int gradientAccumulationSteps() {
        return gradientAccumulationSteps;
    }

    public double emaDecay() {
        return emaDecay;
    }

    public boolean emaWarmup() {
        return emaWarmup;
    }

    /** {@code same} or {@code cpu}. */
    public String emaDevice() {
        return emaDevice;
    }

    public double maxGradNorm() {
        return maxGradNorm;
    }

    // The option texts as given, for validation messages that quote what the user typed.

    String resolutionText() {
        return resolution;
    }

    String lrText() {
        return lr;
    }

    String stepRangeText() {
        return stepRange;
    }
}
