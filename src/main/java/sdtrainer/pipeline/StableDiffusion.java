package sdtrainer.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import sdtrainer.model.clip.ClipTextConfig;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.unet.UNetConfig;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.model.vae.VaeConfig;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.nn.Module;
import sdtrainer.nn.StateDict;

import java.io.IOException;
import java.nio.file.Path;

/** A Stable Diffusion 1.x / 2.x model loaded from a diffusers directory; owns its parameters' memory. */
public final class StableDiffusion implements AutoCloseable {
    private final Path dir;
    private final NDManager manager;
    private final ClipTextModel textEncoder;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;

    private StableDiffusion(Path dir, NDManager manager, ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae) {
        this.dir = dir;
        this.manager = manager;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
    }

    public static StableDiffusion load(Path dir, Device device) throws IOException {
        ModelDirectory.check(dir);
        NDManager manager = NDManager.newBaseManager(device);
        try {
            ClipTextModel te = new ClipTextModel(ClipTextConfig.from(ModelDirectory.config(dir, ModelDirectory.TEXT_ENCODER)));
            UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.from(ModelDirectory.config(dir, ModelDirectory.UNET)));
            AutoencoderKL vae = new AutoencoderKL(VaeConfig.from(ModelDirectory.config(dir, ModelDirectory.VAE)));
            // position_ids is a non-persistent buffer in recent transformers; older checkpoints still carry it
            loadWeights(te, dir, ModelDirectory.TEXT_ENCODER, manager, k -> k.endsWith("embeddings.position_ids"));
            loadWeights(unet, dir, ModelDirectory.UNET, manager, k -> false);
            loadWeights(vae, dir, ModelDirectory.VAE, manager, k -> false);
            return new StableDiffusion(dir, manager, te, unet, vae);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    private static void loadWeights(Module module, Path dir, String component, NDManager manager,
                                    java.util.function.Predicate<String> ignorable) throws IOException {
        try (SafeTensorsSet weights = SafeTensorsSet.openModelWeights(dir.resolve(component), ModelDirectory.weightsBaseName(component))) {
            StateDict.load(module, weights, manager, ignorable);
        }
    }

    public Path directory() { return dir; }
    public NDManager manager() { return manager; }
    public ClipTextModel textEncoder() { return textEncoder; }
    public UNet2DConditionModel unet() { return unet; }
    public AutoencoderKL vae() { return vae; }

    @Override
    public void close() {
        manager.close();
    }
}
