package sdtrainer.network;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TensorData;
import sdtrainer.io.TensorFileException;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.Linear;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;
import sdtrainer.pipeline.StableDiffusion;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static sdtrainer.network.NetworkTestSupport.*;

/** kohya-format files from elsewhere (alpha != rank, LoCon convs, no alpha), EH networks, and the grad-keeping cast. */
class ForeignFilesAndEhTest {
    static final String Q = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";
    static final String CONV = "down_blocks.0.resnets.0.conv1";

    @BeforeAll
    static void fixture() {
        assumeTrue(Files.isDirectory(TINY), "tiny-sd15 fixture absent");
    }

    private static float[] random(Noise n, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float) n.random().nextGaussian() * 0.1f;
        return v;
    }

    @Test
    void kohyaFileWithAlphaOtherThanRankIsScaledByAlphaOverRank(@TempDir Path tmp) throws Exception {
        Noise n = new Noise(5);
        float[] qDown = random(n, 2 * 32), qUp = random(n, 32 * 2);
        float[] cDown = random(n, 2 * 32 * 9), cUp = random(n, 32 * 2);
        Map<String, TensorData> t = new LinkedHashMap<>();
        String q = Targets.name("lora_unet", Q), c = Targets.name("lora_unet", CONV);
        t.put(q + ".lora_down.weight", TensorData.ofFloats(new long[] {2, 32}, qDown));
        t.put(q + ".lora_up.weight", TensorData.ofFloats(new long[] {32, 2}, qUp));
        t.put(q + ".alpha", TensorData.ofFloats(new long[0], new float[] {0.5f}));
        // a LoCon 3x3 conv without alpha: alpha = rank
        t.put(c + ".lora_down.weight", TensorData.ofFloats(new long[] {2, 32, 3, 3}, cDown));
        t.put(c + ".lora_up.weight", TensorData.ofFloats(new long[] {32, 2, 1, 1}, cUp));
        Path file = tmp.resolve("kohya.safetensors");
        SafeTensorsWriter.write(file, t, Map.of("ss_network_module", "networks.lora"), DType.F16);

        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager m = sd.manager().newSubManager();
             NoGrad ignored = new NoGrad()) {
            Linear toQ = (Linear) sd.unet().namedModules().get(Q);
            Conv2d conv = (Conv2d) sd.unet().namedModules().get(CONV);
            NDArray x = new Noise(9).gaussian(m, new Shape(2, 5, 32), m.getDevice());
            NDArray img = new Noise(10).gaussian(m, new Shape(1, 32, 8, 8), m.getDevice());
            float[] baseQ = toQ.forward(x).toFloatArray(), baseC = conv.forward(img).toFloatArray();

            Network net = Network.load(file, sd, 0.8, m);
            net.attach();
            // expected: base + x (up down)^T * 0.8 * 0.5 / 2, with the file's fp16-rounded weights
            NDArray down = m.create(TensorData.ofFloats(new long[] {2, 32}, qDown).toFloatType(DType.F16).toFloats(), new Shape(2, 32));
            NDArray up = m.create(TensorData.ofFloats(new long[] {32, 2}, qUp).toFloatType(DType.F16).toFloats(), new Shape(32, 2));
            float[] expected = m.create(baseQ, new Shape(2, 5, 32)).add(x.matMul(up.matMul(down).transpose()).mul(0.8f * 0.5f / 2)).toFloatArray();
            assertClose(expected, toQ.forward(x).toFloatArray(), 1e-5, "to_q with alpha 0.5, rank 2, multiplier 0.8");

            NDArray cd = m.create(TensorData.ofFloats(new long[] {2, 32, 3, 3}, cDown).toFloatType(DType.F16).toFloats(), new Shape(2, 32, 3, 3));
            NDArray cu = m.create(TensorData.ofFloats(new long[] {32, 2, 1, 1}, cUp).toFloatType(DType.F16).toFloats(), new Shape(32, 2));
            NDArray delta = cu.matMul(cd.reshape(2, -1)).reshape(32, 32, 3, 3).mul(0.8f);
            float[] expectedC = ai.djl.nn.convolutional.Conv2d.conv2d(img, conv.weight.get().add(delta), conv.bias.get(),
                    new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1).singletonOrThrow().toFloatArray();
            assertClose(expectedC, conv.forward(img).toFloatArray(), 1e-5, "3x3 conv LoRA, alpha = rank");
            net.detach();
            assertArrayEquals(baseQ, toQ.forward(x).toFloatArray());
            assertArrayEquals(baseC, conv.forward(img).toFloatArray());
        }
    }

    @Test
    void filesThatDoNotFitAreRefusedWithTheOffendingKeys(@TempDir Path tmp) throws Exception {
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put("lora_unet_no_such_layer.lora_down.weight", TensorData.ofFloats(new long[] {1, 2}, new float[2]));
        t.put("lora_unet_no_such_layer.lora_up.weight", TensorData.ofFloats(new long[] {2, 1}, new float[2]));
        String q = Targets.name("lora_unet", Q);
        t.put(q + ".lora_down.weight", TensorData.ofFloats(new long[] {2, 31}, new float[62]));
        t.put(q + ".lora_up.weight", TensorData.ofFloats(new long[] {32, 2}, new float[64]));
        t.put(q + ".hada_w1_a", TensorData.ofFloats(new long[] {1}, new float[1]));
        Path file = tmp.resolve("bad.safetensors");
        SafeTensorsWriter.write(file, t, Map.of());
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager m = sd.manager().newSubManager()) {
            TensorFileException e = assertThrows(TensorFileException.class, () -> Network.load(file, sd, 1, m));
            String msg = e.getMessage();
            assertTrue(msg.contains(file.toString()), msg);
            assertTrue(msg.contains("lora_unet_no_such_layer"), msg);
            assertTrue(msg.contains(q + ".hada_w1_a"), msg);
            assertTrue(msg.contains(q + ": down (2, 31), up (32, 2) for weight (32, 32)"), msg);
        }
    }

    @Test
    void ehIsBlockDiagonalMergesAndRoundTrips(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("eh.safetensors");
        float[] base, applied;
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            base = probe(sd);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NetworkFactory.create(sd, "eh", 0, 0, 2, false, true, pm, 0));
            assertTrue(e.getMessage().contains("text_model.encoder.layers.0.mlp.fc1 (in 32, out 37)"), e.getMessage());

            Network eh = NetworkFactory.create(sd, "eh", 0, 0, 2, false, false, pm, 0);
            eh.attach();
            assertArrayEquals(base, probe(sd), "zero-initialised");
            Noise n = new Noise(3);
            try (NoGrad ignored = new NoGrad()) {
                for (NDArray w : eh.unetParameters().values()) {
                    w.set(new NDIndex("..."), n.gaussian(pm, w.getShape(), pm.getDevice()).mul(0.05f));
                }
                // one layer by hand: y = W x + [W_eh x_0 | W_eh x_1]
                Linear toQ = (Linear) sd.unet().namedModules().get(Q);
                NDArray weh = eh.unetParameters().get(Targets.name("EH_unet", Q) + ".linear.weight");
                assertEquals(new Shape(16, 16), weh.getShape());
                NDArray x = n.gaussian(pm, new Shape(3, 32), pm.getDevice());
                NDArray blocks = x.get(":, 0:16").matMul(weh.transpose()).concat(x.get(":, 16:32").matMul(weh.transpose()), 1);
                float[] expected = x.matMul(toQ.weight.get().transpose()).add(blocks).toFloatArray();
                assertClose(expected, toQ.forward(x).toFloatArray(), 1e-6, "block-diagonal EH");
            }
            applied = probe(sd);
            assertTrue(maxAbsDiff(base, applied) > 1e-4);
            Map<String, Double> means = eh.weightMeans();
            assertFalse(means.containsKey("lora_up"));
            assertTrue(means.get("to_q") > 0.01, means.toString());
            eh.save(file, new KohyaMetadata().network("networks.eh", 0, 0).build(), DType.F32);
        }
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            Network loaded = Network.load(file, sd, 1.0, pm);
            assertInstanceOf(EhNetwork.class, loaded);
            loaded.attach();
            assertClose(applied, probe(sd), 1e-6, "EH loaded");
            loaded.merge();
            assertClose(applied, probe(sd), 1e-5, "EH merged");
        }
        try (StableDiffusion sd = StableDiffusion.load(TINY, Device.cpu()); NDManager pm = sd.manager().newSubManager()) {
            Network fresh = NetworkFactory.create(sd, "eh", 0, 0, 2, false, false, pm, 0);
            fresh.loadWeights(file);
            fresh.attach();
            assertClose(applied, probe(sd), 1e-6, "EH resumed");
            Network four = NetworkFactory.create(sd, "eh", 0, 0, 4, false, false, pm, 0);
            TensorFileException e = assertThrows(TensorFileException.class, () -> four.loadWeights(file));
            assertTrue(e.getMessage().contains("shape mismatches (60)"), e.getMessage());
        }
    }

    /** An fp32 adapter on fp16 activations (--amp) still receives gradients through the casts. */
    @Test
    void castsKeepTheGradient() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray p = m.create(new float[] {1, 2, 3});
            p.setRequiresGradient(true);
            boolean mode = JniUtils.isGradMode();
            JniUtils.setGradMode(true);
            try {
                NDArray half = sdtrainer.nn.Ops.castKeepingGrad(p.mul(2f), DataType.FLOAT16);
                assertEquals(DataType.FLOAT16, half.getDataType());
                NDArray back = sdtrainer.nn.Ops.castKeepingGrad(half.mul(half), DataType.FLOAT32);
                assertSame(back, sdtrainer.nn.Ops.castKeepingGrad(back, DataType.FLOAT32));
                NDArray loss = back.sum();
                JniUtils.backward((PtNDArray) loss, (PtNDArray) m.create(1f), false, false);
                assertArrayEquals(new float[] {8, 16, 24}, p.getGradient().toFloatArray(), "d/dp sum((2p)^2) = 8p");
            } finally {
                JniUtils.setGradMode(mode);
            }
        }
    }
}
