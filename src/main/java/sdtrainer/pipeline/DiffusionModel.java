package sdtrainer.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.io.DType;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.vae.AutoencoderKL;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The diffusion model a training run works on, whatever its family (SD 1.x/2.x, SDXL): the parts the loop trains
 * and freezes, its schedule, its sample images and its save. How captions become conditioning is family-specific
 * and lives in the training loop's Conditioning pieces.
 */
public interface DiffusionModel extends AutoCloseable {
    /** What --model named: the diffusers folder or the single file. */
    Path directory();

    NDManager manager();

    UNet2DConditionModel unet();

    AutoencoderKL vae();

    /** The text encoders by their diffusers folder name, in the model's order (text_encoder first). */
    Map<String, ClipTextModel> textEncoders();

    /** The training noise schedule (and, through it, the prediction type) from scheduler_config.json. */
    NoiseSchedule schedule();

    /** Training noise and sampling use {@code schedule} from now on (--zero_terminal_snr's rescaled one). */
    void useSchedule(NoiseSchedule schedule);

    /** Whether the VAE must stay in float32 under --amp (SDXL's VAE overflows in float16). */
    default boolean vaeNeedsFloat32() {
        return false;
    }

    /** Images in [0, 1], [B, 3, H, W], owned by {@code m}, drawn as this family's txt2img pipeline draws them. */
    NDArray generate(TextToImage.Request request, NDManager m);

    /** Writes the model as a diffusers directory atomically, weights in {@code precision}. */
    void save(Path out, DType precision) throws IOException;

    /** Writes the model as one original-layout file atomically, weights in {@code precision}. */
    void saveSingleFile(Path file, DType precision) throws IOException;

    @Override
    void close();
}
