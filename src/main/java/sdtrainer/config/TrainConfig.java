package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;
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
    @Option(names = "--model", paramLabel = "DIR|FILE",
            description = "model to train (required): a diffusers folder or a single .safetensors file")
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
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private LrScheduler lrScheduler = LrScheduler.CONSTANT;

    @JsonProperty("train_encoder")
    @Option(names = "--train_encoder", negatable = true, description = "also train the text encoder")
    private boolean trainEncoder;

    @JsonProperty("cache_text_encoder_outputs")
    @Option(names = "--cache_text_encoder_outputs", negatable = true,
            description = "SDXL with frozen encoders: encode each caption once, keep it on the CPU")
    private boolean cacheTextEncoderOutputs;

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
    @Option(names = "--v_prediction", negatable = true,
            description = "v-prediction target (SD 2.x but -base); SD 2.x files need it or --no-v_prediction")
    private Boolean vPrediction;

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
    @Option(names = "--threads", paramLabel = "N", description = "intra-op CPU threads; 0 = one per physical core on CPU, the engine's default on GPU (default: ${DEFAULT-VALUE})")
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
    @Option(names = "--log_dir", paramLabel = "DIR", description = "directory for TensorBoard event files (default: <output>/logs)")
    private Path logDir;

    // Optimizers (issue 13): which one and its kohya-style arguments.

    @JsonProperty("optimizer")
    @Option(names = "--optimizer", paramLabel = "NAME",
            description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private OptimizerType optimizer = OptimizerType.ADAMW;

    @JsonProperty("optimizer_args")
    @JsonDeserialize(using = CommaListDeserializer.class)
    @Option(names = "--optimizer_args", paramLabel = "K=V,...",
            description = "optimizer arguments as kohya names them, e.g. \"weight_decay=0.01,betas=0.9,0.99\"")
    private String optimizerArgs = "";

    // Long runs (issue 10): training state, resume, gradient accumulation, EMA, gradient clipping.

    @JsonProperty("save_state")
    @Option(names = "--save_state", negatable = true,
            description = "write the whole training state to <output>-state/ at saves and on Ctrl-C/SIGTERM")
    private boolean saveState;

    @JsonProperty("save_state_every_n_steps")
    @Option(names = "--save_state_every_n_steps", paramLabel = "N",
            description = "also write the state every N optimizer steps; 0 = only at saves (default: ${DEFAULT-VALUE})")
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
            description = "EMA of the trained weights with this decay, e.g. 0.999; 0 = off (default: ${DEFAULT-VALUE})")
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

    // ---- Training recipe (issue 12): kohya sd-scripts' option names and defaults ----

    @JsonProperty("noise_offset")
    @Option(names = "--noise_offset", paramLabel = "X", description = "add X times a per-channel gaussian to the noise (kohya; e.g. 0.05)")
    private Double noiseOffset;

    @JsonProperty("adaptive_noise_scale")
    @Option(names = "--adaptive_noise_scale", paramLabel = "S",
            description = "noise offset grows by S * |latent channel mean| (needs --noise_offset)")
    private Double adaptiveNoiseScale;

    @JsonProperty("multires_noise_iterations")
    @Option(names = "--multires_noise_iterations", paramLabel = "N", description = "pyramid (multi-resolution) noise levels, e.g. 6")
    private Integer multiresNoiseIterations;

    @JsonProperty("multires_noise_discount")
    @Option(names = "--multires_noise_discount", paramLabel = "D",
            description = "weight D^i of pyramid level i (default: ${DEFAULT-VALUE})")
    private double multiresNoiseDiscount = 0.3;

    @JsonProperty("ip_noise_gamma")
    @Option(names = "--ip_noise_gamma", paramLabel = "X",
            description = "input perturbation: X times extra noise in the noisy input, not the target (e.g. 0.1)")
    private Double ipNoiseGamma;

    @JsonProperty("zero_terminal_snr")
    @Option(names = "--zero_terminal_snr", negatable = true,
            description = "rescale the noise schedule to zero terminal SNR, training and sampling (use v-prediction)")
    private boolean zeroTerminalSnr;

    @JsonProperty("min_snr_gamma")
    @Option(names = "--min_snr_gamma", paramLabel = "G", description = "min-SNR loss weighting, e.g. 5")
    private Double minSnrGamma;

    @JsonProperty("debiased_estimation_loss")
    @Option(names = "--debiased_estimation_loss", negatable = true, description = "weight the loss by 1/sqrt(SNR) (v: 1/(SNR+1))")
    private boolean debiasedEstimationLoss;

    @JsonProperty("scale_v_pred_loss_like_noise_pred")
    @Option(names = "--scale_v_pred_loss_like_noise_pred", negatable = true,
            description = "v-prediction loss times SNR/(SNR+1), weighted like an epsilon loss (needs v-prediction)")
    private boolean scaleVPredLossLikeNoisePred;

    @JsonProperty("loss_type")
    @Option(names = "--loss_type", paramLabel = "TYPE", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private LossType lossType = LossType.L2;

    @JsonProperty("huber_c")
    @Option(names = "--huber_c", paramLabel = "C", description = "huber / smooth_l1 threshold (default: ${DEFAULT-VALUE})")
    private double huberC = 0.1;

    @JsonProperty("huber_schedule")
    @Option(names = "--huber_schedule", paramLabel = "NAME",
            description = "threshold over timesteps: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private HuberSchedule huberSchedule = HuberSchedule.SNR;

    @JsonProperty("huber_scale")
    @Option(names = "--huber_scale", paramLabel = "S",
            description = "scale of the constant and exponential thresholds (default: ${DEFAULT-VALUE})")
    private double huberScale = 1.0;

    @JsonProperty("shuffle_caption")
    @Option(names = "--shuffle_caption", negatable = true, description = "shuffle the caption's tags each step")
    private boolean shuffleCaption;

    @JsonProperty("keep_tokens")
    @Option(names = "--keep_tokens", paramLabel = "N",
            description = "the first N tags stay in front when shuffling or dropping tags (default: ${DEFAULT-VALUE})")
    private int keepTokens;

    @JsonProperty("caption_separator")
    @Option(names = "--caption_separator", paramLabel = "TEXT", description = "separator of caption tags (default: ${DEFAULT-VALUE})")
    private String captionSeparator = ",";

    @JsonProperty("caption_dropout_rate")
    @Option(names = "--caption_dropout_rate", paramLabel = "P",
            description = "chance of training a sample on the empty caption (default: ${DEFAULT-VALUE})")
    private double captionDropoutRate;

    @JsonProperty("caption_tag_dropout_rate")
    @Option(names = "--caption_tag_dropout_rate", paramLabel = "P",
            description = "chance of dropping each tag beyond --keep_tokens (default: ${DEFAULT-VALUE})")
    private double captionTagDropoutRate;

    @JsonProperty("caption_prefix")
    @Option(names = "--caption_prefix", paramLabel = "TEXT", description = "text put before every caption")
    private String captionPrefix;

    @JsonProperty("caption_suffix")
    @Option(names = "--caption_suffix", paramLabel = "TEXT", description = "text put after every caption")
    private String captionSuffix;

    @JsonProperty("clip_skip")
    @Option(names = "--clip_skip", paramLabel = "N",
            description = "text states from the N-th last text-encoder layer, then the final norm (SD1.x anime: 2)")
    private Integer clipSkip;

    @JsonProperty("max_token_length")
    @Option(names = "--max_token_length", paramLabel = "N",
            description = "caption and prompt tokens: 75, 150 or 225 (chunks of 75; default: 75)")
    private Integer maxTokenLength;

    @JsonProperty("lr_warmup_steps")
    @JsonDeserialize(using = CommaListDeserializer.class)
    @Option(names = "--lr_warmup_steps", paramLabel = "N|F|P%",
            description = "warm-up steps, or a fraction < 1 / percentage of all steps (default: 5%% of all steps)")
    private String lrWarmupSteps;

    @JsonProperty("lr_scheduler_num_cycles")
    @Option(names = "--lr_scheduler_num_cycles", paramLabel = "N",
            description = "restarts of cosine_with_restarts (default: ${DEFAULT-VALUE})")
    private int lrSchedulerNumCycles = 1;

    @JsonProperty("lr_scheduler_power")
    @Option(names = "--lr_scheduler_power", paramLabel = "P", description = "exponent of polynomial decay (default: ${DEFAULT-VALUE})")
    private double lrSchedulerPower = 1.0;

    // ---- end of the training recipe ----

    // --- single-file models and LoCon (issue 11) ---

    @JsonProperty("model_config")
    @Option(names = "--model_config", paramLabel = "DIR",
            description = "diffusers folder whose configs describe a single-file --model (weights unused)")
    private Path modelConfig;

    @JsonProperty("save_format")
    @Option(names = "--save_format", paramLabel = "FORMAT",
            description = "full fine-tune layout: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    private SaveFormat saveFormat = SaveFormat.DIFFUSERS;

    @JsonProperty("conv_dim")
    @Option(names = "--conv_dim", paramLabel = "RANK",
            description = "LoCon rank of the ResNet/resampler 3x3 convs; 0 = none (default: ${DEFAULT-VALUE})")
    private int convDim;

    @JsonProperty("conv_alpha")
    @Option(names = "--conv_alpha", paramLabel = "ALPHA",
            description = "LoCon alpha of the 3x3 convs, scale alpha/conv_dim (default: ${DEFAULT-VALUE})")
    private double convAlpha = 1.0;

    public Optional<Path> modelConfig() {
        return Optional.ofNullable(modelConfig);
    }

    public SaveFormat saveFormat() {
        return saveFormat;
    }

    /** LoCon rank of the 3x3 convs (kohya's conv_dim); 0 means plain LoRA. */
    public int convDim() {
        return convDim;
    }

    public double convAlpha() {
        return convAlpha;
    }

    // --- end single-file models and LoCon ---

    // --- sample images at save points (issue 13: samplers and sample prompts) ---

    @JsonProperty("sample_prompts")
    @Option(names = "--sample_prompts", paramLabel = "FILE",
            description = "kohya prompt file for sample images (.txt lines with --n --w --h --s --l --d --ss, .toml, .json)")
    private Path samplePrompts;

    @JsonProperty("sample_sampler")
    @Option(names = "--sample_sampler", paramLabel = "NAME",
            description = "ddim, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lms, heun, ddpm (default: ${DEFAULT-VALUE})")
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

    // --- validation loss ---

    @JsonProperty("validation_split")
    @Option(names = "--validation_split", paramLabel = "F",
            description = "hold out this share (0 < F < 1) of the dataset for a validation loss (default: off)")
    private Double validationSplit;

    @JsonProperty("validation_dataset")
    @Option(names = "--validation_dataset", paramLabel = "DIR",
            description = "a dataset folder laid out like --dataset whose samples give the validation loss (default: none)")
    private Path validationDataset;

    @JsonProperty("validate_every_n_epochs")
    @Option(names = "--validate_every_n_epochs", paramLabel = "N",
            description = "compute the validation loss every N epochs (default: 1 when validating)")
    private Integer validateEveryNEpochs;

    @JsonProperty("validate_every_n_steps")
    @Option(names = "--validate_every_n_steps", paramLabel = "N",
            description = "also compute it every N optimizer steps (default: off)")
    private Integer validateEveryNSteps;

    @JsonProperty("max_validation_steps")
    @Option(names = "--max_validation_steps", paramLabel = "N",
            description = "use at most N validation batches per evaluation (default: all)")
    private Integer maxValidationSteps;

    @JsonProperty("validation_seed")
    @Option(names = "--validation_seed", paramLabel = "N",
            description = "seed of the held-out share and of the validation noise (default: --seed)")
    private Long validationSeed;

    // --- end of validation loss ---

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

    public boolean cacheTextEncoderOutputs() {
        return cacheTextEncoderOutputs;
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
        return vPrediction != null && vPrediction;
    }

    /** Whether --v_prediction or --no-v_prediction was given, and which; empty when neither. */
    public Optional<Boolean> vPredictionChoice() {
        return Optional.ofNullable(vPrediction);
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

    /** Intra-op threads; 0 = one per physical core on CPU, the engine's default on GPU. */
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

    public OptimizerType optimizer() {
        return optimizer;
    }

    /** @throws IllegalArgumentException when {@code optimizer_args} is malformed (validation reports it first) */
    public OptimizerArgs optimizerArgs() {
        return OptimizerArgs.parse(optimizerArgs);
    }

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


    // ---- Training recipe (issue 12) ----

    public OptionalDouble noiseOffset() {
        return optional(noiseOffset);
    }

    public OptionalDouble adaptiveNoiseScale() {
        return optional(adaptiveNoiseScale);
    }

    public OptionalInt multiresNoiseIterations() {
        return multiresNoiseIterations == null ? OptionalInt.empty() : OptionalInt.of(multiresNoiseIterations);
    }

    public double multiresNoiseDiscount() {
        return multiresNoiseDiscount;
    }

    public OptionalDouble ipNoiseGamma() {
        return optional(ipNoiseGamma);
    }

    public boolean zeroTerminalSnr() {
        return zeroTerminalSnr;
    }

    public OptionalDouble minSnrGamma() {
        return optional(minSnrGamma);
    }

    public boolean debiasedEstimationLoss() {
        return debiasedEstimationLoss;
    }

    public boolean scaleVPredLossLikeNoisePred() {
        return scaleVPredLossLikeNoisePred;
    }

    public LossType lossType() {
        return lossType;
    }

    public double huberC() {
        return huberC;
    }

    public HuberSchedule huberSchedule() {
        return huberSchedule;
    }

    public double huberScale() {
        return huberScale;
    }

    public boolean shuffleCaption() {
        return shuffleCaption;
    }

    public int keepTokens() {
        return keepTokens;
    }

    public String captionSeparator() {
        return captionSeparator;
    }

    public double captionDropoutRate() {
        return captionDropoutRate;
    }

    public double captionTagDropoutRate() {
        return captionTagDropoutRate;
    }

    public Optional<String> captionPrefix() {
        return Optional.ofNullable(captionPrefix);
    }

    public Optional<String> captionSuffix() {
        return Optional.ofNullable(captionSuffix);
    }

    /** Text-encoder layer from the end (1 = the last); absent means 1. */
    public OptionalInt clipSkip() {
        return clipSkip == null ? OptionalInt.empty() : OptionalInt.of(clipSkip);
    }

    /** 75, 150 or 225 content tokens; absent means the tokenizer's own 75 (77 with BOS/EOS). */
    public OptionalInt maxTokenLength() {
        return maxTokenLength == null ? OptionalInt.empty() : OptionalInt.of(maxTokenLength);
    }

    /** @throws IllegalArgumentException when {@code lr_warmup_steps} is malformed (validation reports it first) */
    public Optional<WarmupSteps> lrWarmupSteps() {
        return lrWarmupSteps == null ? Optional.empty() : Optional.of(WarmupSteps.parse(lrWarmupSteps));
    }

    public int lrSchedulerNumCycles() {
        return lrSchedulerNumCycles;
    }

    public double lrSchedulerPower() {
        return lrSchedulerPower;
    }

    String lrWarmupStepsText() {
        return lrWarmupSteps;
    }

    private static OptionalDouble optional(Double value) {
        return value == null ? OptionalDouble.empty() : OptionalDouble.of(value);
    }

    // ---- end of the training recipe ----

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

    // --- validation loss ---

    /** Empty: no split (0 is the same). */
    public OptionalDouble validationSplit() {
        return validationSplit == null || validationSplit == 0 ? OptionalDouble.empty() : OptionalDouble.of(validationSplit);
    }

    public Optional<Path> validationDataset() {
        return Optional.ofNullable(validationDataset);
    }

    /** Whether a validation loss is computed at all. */
    public boolean validates() {
        return validationSplit().isPresent() || validationDataset != null;
    }

    public int validateEveryNEpochs() {
        return validateEveryNEpochs == null ? 1 : validateEveryNEpochs;
    }

    /** Empty: only at epoch ends. */
    public OptionalInt validateEveryNSteps() {
        return validateEveryNSteps == null ? OptionalInt.empty() : OptionalInt.of(validateEveryNSteps);
    }

    /** Empty: every held-out batch. */
    public OptionalInt maxValidationSteps() {
        return maxValidationSteps == null ? OptionalInt.empty() : OptionalInt.of(maxValidationSteps);
    }

    /** Empty: the run's seed (the state's when resuming). */
    public OptionalLong validationSeed() {
        return validationSeed == null ? OptionalLong.empty() : OptionalLong.of(validationSeed);
    }

    // --- end of validation loss ---

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

    String optimizerArgsText() {
        return optimizerArgs;
    }
}
