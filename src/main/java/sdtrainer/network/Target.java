package sdtrainer.network;

import sdtrainer.nn.Conv2d;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;

/**
 * A base layer an adapter wraps: its kohya-style name (prefix + module path with '.' replaced by '_'), its
 * module path inside the UNet or text encoder, and the {@link Linear} or {@link Conv2d} itself.
 */
record Target(String name, String path, Module layer, boolean textEncoder) {

    Target {
        if (!(layer instanceof Linear) && !(layer instanceof Conv2d)) {
            throw new IllegalArgumentException(path + " is a " + layer.getClass().getSimpleName() + ", not Linear or Conv2d");
        }
    }

    boolean isConv() { return layer instanceof Conv2d; }

    int inFeatures() { return layer instanceof Linear l ? l.inFeatures : ((Conv2d) layer).inChannels; }

    int outFeatures() { return layer instanceof Linear l ? l.outFeatures : ((Conv2d) layer).outChannels; }

    /** The base weight: [out, in] or [out, in, k, k]. */
    sdtrainer.nn.Parameter weight() { return layer instanceof Linear l ? l.weight : ((Conv2d) layer).weight; }

    sdtrainer.nn.Layer adapter() { return layer instanceof Linear l ? l.adapter() : ((Conv2d) layer).adapter(); }

    void setAdapter(sdtrainer.nn.Layer adapter) {
        if (layer instanceof Linear l) l.setAdapter(adapter);
        else ((Conv2d) layer).setAdapter(adapter);
    }
}
