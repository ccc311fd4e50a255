package sdtrainer.pipeline;

import ai.djl.ndarray.NDArray;

import java.awt.image.BufferedImage;

/** From image tensors to pictures. */
public final class ImageTensors {
    private ImageTensors() {}

    /** Image {@code index} of a [B, 3, H, W] tensor in [0, 1] as RGB, rounded as diffusers' numpy_to_pil. */
    public static BufferedImage toImage(NDArray images01, int index) {
        long h = images01.getShape().get(2), w = images01.getShape().get(3);
        float[] px = images01.get(index).toFloatArray();
        int plane = (int) (h * w);
        BufferedImage img = new BufferedImage((int) w, (int) h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = (int) (y * w + x);
                img.setRGB(x, y, (byte8(px[i]) << 16) | (byte8(px[plane + i]) << 8) | byte8(px[2 * plane + i]));
            }
        }
        return img;
    }

    private static int byte8(float v) {
        return Math.max(0, Math.min(255, Math.round(v * 255f)));
    }
}
