package sdtrainer.network;

import sdtrainer.model.clip.ClipAttention;
import sdtrainer.model.clip.ClipMlp;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.Downsample2D;
import sdtrainer.model.unet.ResnetBlock2D;
import sdtrainer.model.unet.Transformer2DModel;
import sdtrainer.model.unet.Upsample2D;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which layers adapters wrap, following kohya-ss {@code networks/lora.py}: in the UNet every Linear and every
 * 1x1 Conv2d inside a Transformer2DModel, in the text encoder every Linear inside CLIPAttention and CLIPMLP;
 * with LoCon (kohya's {@code conv_dim}) also every Linear and Conv2d of ResnetBlock2D, Downsample2D and
 * Upsample2D. Text-encoder targets come first, as kohya creates them.
 */
final class Targets {
    private Targets() {}

    /** The training targets; {@code te} null leaves the text encoder out, {@code upOnly} keeps only up_blocks. */
    static List<Target> training(UNet2DConditionModel unet, ClipTextModel te, boolean upOnly, boolean linearOnly,
                                 String unetPrefix, String tePrefix) {
        return training(unet, te, upOnly, linearOnly, false, unetPrefix, tePrefix);
    }

    /** As above; {@code locon} adds the ResNet blocks' and resamplers' layers, their 3x3 convs included. */
    static List<Target> training(UNet2DConditionModel unet, ClipTextModel te, boolean upOnly, boolean linearOnly,
                                 boolean locon, String unetPrefix, String tePrefix) {
        List<Target> out = new ArrayList<>();
        if (te != null) {
            for (Map.Entry<String, Module> m : te.namedModules().entrySet()) {
                if (m.getValue() instanceof ClipAttention || m.getValue() instanceof ClipMlp) {
                    addChildren(out, m.getKey(), m.getValue(), tePrefix, true, true);
                }
            }
        }
        for (Map.Entry<String, Module> m : unet.namedModules().entrySet()) {
            if (upOnly && !m.getKey().startsWith("up_blocks.")) continue;
            Module block = m.getValue();
            if (block instanceof Transformer2DModel) {
                addChildren(out, m.getKey(), block, unetPrefix, linearOnly, false);
            } else if (locon && (block instanceof ResnetBlock2D || block instanceof Downsample2D || block instanceof Upsample2D)) {
                for (Map.Entry<String, Module> c : block.namedModules().entrySet()) {
                    if (c.getValue() instanceof Linear || c.getValue() instanceof Conv2d) {
                        String full = m.getKey() + "." + c.getKey();
                        out.add(new Target(name(unetPrefix, full), full, c.getValue(), false));
                    }
                }
            }
        }
        return out;
    }

    private static void addChildren(List<Target> out, String path, Module parent, String prefix, boolean linearOnly,
                                    boolean textEncoder) {
        for (Map.Entry<String, Module> c : parent.namedModules().entrySet()) {
            Module layer = c.getValue();
            boolean take = layer instanceof Linear || (!linearOnly && layer instanceof Conv2d conv && conv.kernel == 1);
            if (!take) continue;
            String full = path + "." + c.getKey();
            out.add(new Target(name(prefix, full), full, layer, textEncoder));
        }
    }

    /**
     * Every Linear and Conv2d of both models by kohya-style name: what a LoRA file from elsewhere may name
     * (LoCon files also wrap ResNet convolutions and time-embedding projections); {@code te} null: the UNet only.
     */
    static Map<String, Target> all(UNet2DConditionModel unet, ClipTextModel te, String unetPrefix, String tePrefix) {
        Map<String, Target> out = new LinkedHashMap<>();
        if (te != null) collect(out, te, tePrefix, true);
        collect(out, unet, unetPrefix, false);
        return out;
    }

    private static void collect(Map<String, Target> out, Module model, String prefix, boolean textEncoder) {
        for (Map.Entry<String, Module> m : model.namedModules().entrySet()) {
            if (m.getValue() instanceof Linear || m.getValue() instanceof Conv2d) {
                String name = name(prefix, m.getKey());
                out.put(name, new Target(name, m.getKey(), m.getValue(), textEncoder));
            }
        }
    }

    static String name(String prefix, String path) {
        return (prefix + "." + path).replace('.', '_');
    }
}
