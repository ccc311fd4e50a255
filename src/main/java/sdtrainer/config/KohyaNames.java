package sdtrainer.config;

import java.util.Map;
import java.util.Optional;

/**
 * kohya-ss sd-scripts' option names and what this tool calls them, for the hint a kohya user gets on the command
 * line ({@code --network_dim}) and in a config file ({@code network_dim:}); the README's table says the same.
 */
public final class KohyaNames {
    private static final Map<String, String> OURS = Map.ofEntries(
            Map.entry("pretrained_model_name_or_path", "model"),
            Map.entry("train_data_dir", "dataset"),
            Map.entry("output_dir", "output"),
            Map.entry("output_name", "output"),
            Map.entry("train_batch_size", "batch_size"),
            Map.entry("learning_rate", "lr"),
            Map.entry("unet_lr", "lr"),
            Map.entry("text_encoder_lr", "lr"),
            Map.entry("max_train_epochs", "epochs"),
            Map.entry("save_every_n_epochs", "save_n_epochs"),
            Map.entry("mixed_precision", "amp"),
            Map.entry("network_dim", "lora"),
            Map.entry("network_alpha", "lora_alpha"),
            Map.entry("network_module", "network"),
            Map.entry("network_weights", "resume_lora"),
            Map.entry("enable_bucket", "use_bucket"),
            Map.entry("v_parameterization", "v_prediction"),
            Map.entry("logging_dir", "log_dir"),
            Map.entry("log_with", "wandb"));

    private KohyaNames() {}

    /** Our name for a kohya option or config key (without dashes), e.g. {@code lora} for {@code network_dim}. */
    public static Optional<String> ours(String kohyaName) {
        return Optional.ofNullable(OURS.get(kohyaName));
    }
}
