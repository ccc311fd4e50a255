package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * AdamW8bit and Lion8bit against bitsandbytes' pure-PyTorch 8-bit block-wise update
 * (optimizer_update_8bit_blockwise_pytorch @ 95f9af30, block size 256, run by make_reference.py): parameters
 * after every step, and the quantised state, codes and scales.
 */
class BlockQuantized8bitTest {

    private static void check(String file, Function<List<ParamGroup>, Optimizer> make, boolean twoStates) throws IOException {
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(OptimizerCases.resource(file))) {
            NDArray p = st.load("input.param", m).duplicate();
            p.setRequiresGradient(true);
            Optimizer opt = make.apply(List.of(new ParamGroup("g", Map.of("w", p), 1e-3)));
            for (int s = 0; st.names().contains("input.grad.step" + s); s++) {
                opt.zeroGrad();
                AdamWTest.setGradient(p, st.load("input.grad.step" + s, m));
                opt.step();
                OptimizerCases.assertClose(st.readFloats("output.param.step" + s), p.toFloatArray(), 1e-6, 1e-5,
                        file + " param after step " + s);
                try (NDManager sm = m.newSubManager()) {
                    Map<String, NDArray> state = opt.stateDict(sm);
                    String first = twoStates ? AdamW.EXP_AVG : Lion.EXP_AVG;
                    compareState(st, state.get("w." + first + BlockQuantized8bit.CODES),
                            state.get("w." + first + BlockQuantized8bit.ABSMAX), "1", s);
                    if (twoStates) {
                        compareState(st, state.get("w." + AdamW.EXP_AVG_SQ + BlockQuantized8bit.CODES),
                                state.get("w." + AdamW.EXP_AVG_SQ + BlockQuantized8bit.ABSMAX), "2", s);
                    }
                }
            }
        }
    }

    /** Codes may differ by one where a value lies within float rounding of the midpoint between two entries. */
    private static void compareState(SafeTensors st, NDArray codes, NDArray absmax, String which, int step) throws IOException {
        byte[] expected;
        try (NDManager m = NDManager.newBaseManager()) {
            expected = st.load("output.state" + which + ".step" + step, m).toByteArray();
        }
        byte[] got = codes.toByteArray();
        assertEquals(expected.length, got.length);
        int off = 0;
        for (int i = 0; i < got.length; i++) {
            int d = Math.abs((got[i] & 0xff) - (expected[i] & 0xff));
            assertTrue(d <= 1, "state" + which + " code " + i + " after step " + step);
            if (d != 0) off++;
        }
        assertTrue(off <= got.length / 200, off + " of " + got.length + " codes of state" + which + " differ");
        OptimizerCases.assertClose(st.readFloats("output.absmax" + which + ".step" + step), absmax.toFloatArray(),
                0, 1e-6, "absmax" + which + " after step " + step);
    }

    @Test
    void adamW8bitMatchesBitsandbytes() throws IOException {
        check("adamw8bit_blockwise.safetensors",
                g -> BlockQuantized8bit.adamW(g, 0.9, 0.999, 1e-8, 1e-2, 0, 256), true);
    }

    @Test
    void lion8bitMatchesBitsandbytes() throws IOException {
        check("lion8bit_blockwise.safetensors", g -> BlockQuantized8bit.lion(g, 0.9, 0.99, 1e-2, 0, 256), false);
    }

    @Test
    void smallParametersKeepFloat32StateAndStateBytesCountTwoPerValue() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray small = m.ones(new ai.djl.ndarray.types.Shape(10));
            NDArray big = m.ones(new ai.djl.ndarray.types.Shape(100, 50));
            Optimizer opt = BlockQuantized8bit.adamW(List.of(new ParamGroup("g", Map.of("s", small, "b", big), 1e-3)),
                    0.9, 0.999, 1e-8, 0, BlockQuantized8bit.DEFAULT_MIN_SIZE, BlockQuantized8bit.DEFAULT_BLOCK_SIZE);
            // small: two float32 moments; big: two 8-bit moments plus ceil(5000 / 2048) = 3 scales each
            assertEquals(10 * 8 + 5000 * 2 + 2 * 3 * 4, opt.stateBytes());
            assertEquals(10 * 8 + 5000 * 8, new AdamW(opt.groups()).stateBytes());
        }
    }

    @Test
    void adamW8bitResumesBitForBit(@TempDir Path dir) throws IOException {
        OptimizerCases.assertResumesBitForBit(g -> BlockQuantized8bit.adamW(OptimizerTestGroups.withLr(g, 1e-3),
                0.9, 0.999, 1e-8, 1e-2, 4096, 2048), 2, 4, dir);
    }

    @Test
    void lion8bitResumesBitForBit(@TempDir Path dir) throws IOException {
        OptimizerCases.assertResumesBitForBit(g -> BlockQuantized8bit.lion(OptimizerTestGroups.withLr(g, 1e-3),
                0.9, 0.99, 1e-2, 4096, 2048), 2, 4, dir);
    }

    /** Lion8bit's group step runs Lion's one-call loop on the dequantised states: the per-tensor step's bits. */
    @Test
    void lion8bitInOneCallPerGroupIsTheTensorByTensorStepBitForBit() throws IOException {
        assertEquals(0.0, OptimizerCases.oneCallAgainstTensorByTensor(g -> BlockQuantized8bit.lion(
                OptimizerTestGroups.withLr(g, 1e-3), 0.9, 0.99, 1e-2, 4096, 256), 4));
    }

    /** The group is stepped in runs of bounded size (bounded float32 temporaries); the run length changes no bit. */
    @Test
    void adamW8bitInShortRunsIsTheOneRunStepBitForBit() throws IOException {
        Function<List<ParamGroup>, BlockQuantized8bit> make = g -> BlockQuantized8bit.adamW(
                OptimizerTestGroups.withLr(g, 1e-3), 0.9, 0.999, 1e-8, 1e-2, 4096, 256);
        assertEquals(0.0, OptimizerCases.compare(make::apply, g -> make.apply(g).inRunsOf(5000), 4));
    }
}
