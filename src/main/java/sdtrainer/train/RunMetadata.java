package sdtrainer.train;

import sdtrainer.config.NetworkType;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.TrainingData;
import sdtrainer.network.KohyaMetadata;
import sdtrainer.network.LoraNetwork;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.Random;
import java.util.TreeMap;

/**
 * The metadata a LoRA saved by this run carries: every {@code ss_*} key kohya's {@code train_network.py} writes that
 * means something for our run, spelled as kohya spells it (Python's {@code str()} and {@code json.dumps}), and the
 * SAI model-spec keys kohya's {@code library/sai_model_spec.py} adds; A1111's metadata panel and Civitai read both.
 * Keys of kohya features we do not have are written with kohya's value for "off" (None, False, 0).
 */
final class RunMetadata {
    /** The model the run trains, as the metadata names it. */
    record Base(Path model, boolean v2, boolean sdxl, boolean vPrediction, int numTrainTimesteps) {}

    private static final String SPEC_VERSION = "1.0.1";
    private static final String IMPL_STABILITY_AI = "https://github.com/Stability-AI/generative-models";

    private final TrainConfig cfg;
    private final TrainingPlan plan;
    private final TrainingData data;
    private final Base base;
    private final Instant startedAt;
    /** kohya: a random integer telling which group of epochs a file came from. */
    private final long sessionId = new SecureRandom().nextLong() >>> 32;
    private Map<String, String> modelHashes;

    RunMetadata(TrainConfig cfg, TrainingPlan plan, TrainingData data, Base base, Instant startedAt) {
        this.cfg = cfg;
        this.plan = plan;
        this.data = data;
        this.base = base;
        this.startedAt = startedAt;
    }

    /** Everything for a save after {@code epochsDone} epochs and {@code steps} steps, finished {@code now}. */
    Map<String, String> at(long seed, int epochsDone, long steps, String outputName, Instant now) throws IOException {
        boolean eh = cfg.network() == NetworkType.EH;
        KohyaMetadata m = new KohyaMetadata()
                .network(eh ? "networks.eh" : LoraNetwork.KOHYA_MODULE, eh ? cfg.ehGroups() : cfg.lora(),
                        cfg.loraAlpha() == 0 ? cfg.lora() : cfg.loraAlpha())
                .model(base.v2(), base.sdxl(), base.vPrediction())
                .resolution(cfg.resolution().width(), cfg.resolution().height())
                .learningRates(cfg.learningRates().unetLr(), cfg.learningRates().unetLr(), cfg.learningRates().teLr())
                .progress(plan.totalEpochs(), epochsDone, steps)
                .batchSizePerDevice(cfg.batchSize())
                .seed(seed)
                .mixedPrecision(cfg.amp() ? "fp16" : "no")
                .outputName(outputName)
                .trainingTimes(startedAt, now)
                .tagFrequency(Map.of(datasetName(), data.captions()))
                .enableBucket(cfg.useBucket());
        m.put("ss_session_id", Long.toString(sessionId));
        m.put("ss_num_train_images", Integer.toString(data.size()));
        m.put("ss_num_validation_images", "0");
        m.put("ss_num_reg_images", "0");
        m.put("ss_num_batches_per_epoch", Integer.toString(data.epoch(new Random(0), plan.microBatch()).size()));
        m.put("ss_gradient_checkpointing", KohyaMetadata.pyBool(cfg.gradientCheckpointing()));
        m.put("ss_gradient_accumulation_steps", Integer.toString(cfg.gradientAccumulationSteps()));
        m.put("ss_max_train_steps", Long.toString(plan.totalSteps()));
        m.put("ss_lr_warmup_steps", Integer.toString(plan.warmupSteps()));
        m.put("ss_lr_scheduler", cfg.lrScheduler().toString());
        m.put("ss_network_dropout", "None");
        m.put("ss_full_fp16", "False");
        m.put("ss_clip_skip", py(cfg.clipSkip()));
        m.put("ss_max_token_length", py(cfg.maxTokenLength()));
        m.put("ss_cache_latents", KohyaMetadata.pyBool(cfg.useBucket()));
        m.put("ss_lowram", "False");
        m.put("ss_noise_offset", py(cfg.noiseOffset()));
        m.put("ss_multires_noise_iterations", py(cfg.multiresNoiseIterations()));
        m.put("ss_multires_noise_discount", KohyaMetadata.pyFloat(cfg.multiresNoiseDiscount()));
        m.put("ss_adaptive_noise_scale", py(cfg.adaptiveNoiseScale()));
        m.put("ss_zero_terminal_snr", KohyaMetadata.pyBool(cfg.zeroTerminalSnr()));
        m.put("ss_training_comment", "None");
        m.put("ss_optimizer", optimizer());
        m.put("ss_max_grad_norm", KohyaMetadata.pyFloat(cfg.maxGradNorm()));
        m.put("ss_caption_dropout_rate", KohyaMetadata.pyFloat(cfg.captionDropoutRate()));
        m.put("ss_caption_dropout_every_n_epochs", "0");
        m.put("ss_caption_tag_dropout_rate", KohyaMetadata.pyFloat(cfg.captionTagDropoutRate()));
        m.put("ss_face_crop_aug_range", "None");
        m.put("ss_prior_loss_weight", "1.0");
        m.put("ss_min_snr_gamma", py(cfg.minSnrGamma()));
        m.put("ss_scale_weight_norms", "None");
        m.put("ss_ip_noise_gamma", py(cfg.ipNoiseGamma()));
        m.put("ss_debiased_estimation", KohyaMetadata.pyBool(cfg.debiasedEstimationLoss()));
        m.put("ss_noise_offset_random_strength", "False");
        m.put("ss_ip_noise_gamma_random_strength", "False");
        m.put("ss_loss_type", cfg.lossType().toString());
        m.put("ss_huber_schedule", cfg.huberSchedule().toString());
        m.put("ss_huber_scale", KohyaMetadata.pyFloat(cfg.huberScale()));
        m.put("ss_huber_c", KohyaMetadata.pyFloat(cfg.huberC()));
        m.put("ss_fp8_base", "False");
        m.put("ss_fp8_base_unet", "False");
        m.put("ss_total_batch_size", Integer.toString(cfg.batchSize() * cfg.gradientAccumulationSteps()));
        m.put("ss_color_aug", "False");
        m.put("ss_flip_aug", "False");
        m.put("ss_random_crop", "False");
        m.put("ss_shuffle_caption", KohyaMetadata.pyBool(cfg.shuffleCaption()));
        m.put("ss_bucket_no_upscale", "False");
        m.put("ss_keep_tokens", Integer.toString(cfg.keepTokens()));
        Map<String, Object> dir = new LinkedHashMap<>();
        dir.put("n_repeats", 1);
        dir.put("img_count", data.size());
        m.put("ss_dataset_dirs", KohyaMetadata.pyJson(Map.of(datasetName(), dir)));
        m.put("ss_reg_dataset_dirs", "{}");
        buckets(m);
        if (cfg.convDim() > 0) {
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("conv_dim", Integer.toString(cfg.convDim()));
            // kohya keeps the typed text; a whole alpha is typed without ".0"
            double a = cfg.convAlpha();
            args.put("conv_alpha", a == Math.rint(a) ? Long.toString((long) a) : KohyaMetadata.pyFloat(a));
            m.put("ss_network_args", KohyaMetadata.pyJson(args));
        }
        m.put("ss_sd_model_name", base.model().getFileName().toString());
        hashes().forEach(m::put);
        Map<String, String> all = new TreeMap<>(m.build());
        all.putAll(modelSpec(outputName, now));
        return all;
    }

    /** kohya's bucket info ({@code None} without buckets) and the smallest and largest bucket sides. */
    private void buckets(KohyaMetadata m) {
        Map<List<Integer>, Integer> counts = data.bucketCounts();
        if (counts.isEmpty()) {
            m.put("ss_bucket_info", "null");
            m.put("ss_min_bucket_reso", "None");
            m.put("ss_max_bucket_reso", "None");
            return;
        }
        Map<String, Object> buckets = new LinkedHashMap<>();
        int i = 0, min = Integer.MAX_VALUE, max = 0;
        for (Map.Entry<List<Integer>, Integer> e : counts.entrySet()) {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("resolution", e.getKey());
            b.put("count", e.getValue());
            buckets.put(Integer.toString(i++), b);
            for (int side : e.getKey()) {
                min = Math.min(min, side);
                max = Math.max(max, side);
            }
        }
        m.put("ss_bucket_info", KohyaMetadata.pyJson(Map.of("buckets", buckets)));
        m.put("ss_min_bucket_reso", Integer.toString(min));
        m.put("ss_max_bucket_reso", Integer.toString(max));
    }

    /** The SAI model spec of a LoRA, as kohya's build_metadata fills it. */
    private Map<String, String> modelSpec(String title, Instant now) {
        Map<String, String> spec = new LinkedHashMap<>();
        String arch = base.sdxl() ? "stable-diffusion-xl-v1-base"
                : base.v2() ? (base.vPrediction() ? "stable-diffusion-v2-768-v" : "stable-diffusion-v2-512")
                : "stable-diffusion-v1";
        spec.put("modelspec.sai_model_spec", SPEC_VERSION);
        spec.put("modelspec.architecture", arch + "/lora");
        spec.put("modelspec.implementation", base.sdxl() ? IMPL_STABILITY_AI : "diffusers");
        spec.put("modelspec.title", title);
        spec.put("modelspec.resolution", cfg.resolution().width() + "x" + cfg.resolution().height());
        spec.put("modelspec.date", LocalDateTime.ofInstant(now.truncatedTo(ChronoUnit.SECONDS), ZoneId.systemDefault()).toString());
        spec.put("modelspec.prediction_type", base.vPrediction() ? "v" : "epsilon");
        if (cfg.stepRange().from() > 0 || cfg.stepRange().to() < 1) {
            TimestepRange r = TimestepRange.of(cfg.stepRange(), base.numTrainTimesteps());
            spec.put("modelspec.timestep_range", r.lo() + "," + r.hi());
        }
        cfg.clipSkip().ifPresent(n -> spec.put("modelspec.encoder_layer", Integer.toString(n)));
        String version = RunMetadata.class.getPackage().getImplementationVersion();
        spec.put("modelspec.implementation_version", "sd-trainer/" + (version == null ? "development" : version));
        return spec;
    }

    /** kohya's class path of the optimizer and its arguments as {@code key=value} with Python's spelling. */
    private String optimizer() {
        String name = switch (cfg.optimizer()) {
            case ADAMW -> "torch.optim.adamw.AdamW";
            case ADAMW8BIT -> "bitsandbytes.optim.adamw.AdamW8bit";
            case LION -> "lion_pytorch.lion_pytorch.Lion";
            case LION8BIT -> "bitsandbytes.optim.lion.Lion8bit";
            case PRODIGY -> "prodigyopt.prodigy.Prodigy";
            case ADAFACTOR -> "transformers.optimization.Adafactor";
            case SGD -> "torch.optim.sgd.SGD";
        };
        List<String> args = new ArrayList<>();
        cfg.optimizerArgs().values().forEach((k, v) -> args.add(k + "=" + KohyaMetadata.pyLiteral(v)));
        return args.isEmpty() ? name : name + "(" + String.join(",", args) + ")";
    }

    /**
     * The base model's A1111 hashes (the old 8-digit one of 64 KiB at 1 MiB, the full sha256), once per run; kohya
     * writes {@code IsADirectory} for a diffusers folder.
     */
    private Map<String, String> hashes() throws IOException {
        if (modelHashes != null) return modelHashes;
        Path model = base.model();
        Map<String, String> h = new LinkedHashMap<>();
        if (Files.isDirectory(model)) {
            h.put("ss_sd_model_hash", "IsADirectory");
            h.put("ss_new_sd_model_hash", "IsADirectory");
        } else {
            try (InputStream in = Files.newInputStream(model)) {
                MessageDigest full = sha256(), old = sha256();
                byte[] buf = new byte[1 << 20];
                long pos = 0;
                for (int n; (n = in.read(buf)) > 0; pos += n) {
                    full.update(buf, 0, n);
                    long from = Math.max(pos, 0x100000), to = Math.min(pos + n, 0x110000);
                    if (from < to) old.update(buf, (int) (from - pos), (int) (to - from));
                }
                h.put("ss_sd_model_hash", HexFormat.of().formatHex(old.digest()).substring(0, 8));
                h.put("ss_new_sd_model_hash", HexFormat.of().formatHex(full.digest()));
            }
        }
        modelHashes = h;
        return h;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private String datasetName() {
        return cfg.dataset().orElseThrow().toAbsolutePath().normalize().getFileName().toString();
    }

    private static String py(OptionalInt v) {
        return v.isPresent() ? Integer.toString(v.getAsInt()) : "None";
    }

    private static String py(OptionalDouble v) {
        return v.isPresent() ? KohyaMetadata.pyFloat(v.getAsDouble()) : "None";
    }
}
