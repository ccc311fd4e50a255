package sdtrainer.train.optim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Against torch.optim.SGD of torch 1.13 (src/test/resources/optim/make_reference.py). */
class SgdTest {

    @Test
    void plain() throws IOException {
        OptimizerCases.assertMatches(OptimizerCases.resource("sgd_plain.safetensors"),
                g -> new Sgd(OptimizerTestGroups.withLr(g, 1e-2), 0, 0, 0, false), 1e-7, 1e-6, (o, s) -> {});
    }

    @Test
    void momentumWithDampeningAndWeightDecay() throws IOException {
        OptimizerCases.assertMatches(OptimizerCases.resource("sgd_momentum_dampening.safetensors"),
                g -> new Sgd(OptimizerTestGroups.withLr(g, 1e-2), 0.9, 0.1, 1e-2, false), 1e-7, 1e-6, (o, s) -> {});
    }

    @Test
    void nesterov() throws IOException {
        OptimizerCases.assertMatches(OptimizerCases.resource("sgd_nesterov.safetensors"),
                g -> new Sgd(OptimizerTestGroups.withLr(g, 1e-2), 0.9, 0, 1e-2, true), 1e-7, 1e-6, (o, s) -> {});
    }

    @Test
    void nesterovNeedsMomentum() {
        assertThrows(IllegalArgumentException.class, () -> new Sgd(java.util.List.of(), 0, 0, 0, true));
    }

    @Test
    void resumesBitForBit(@TempDir Path dir) throws IOException {
        OptimizerCases.assertResumesBitForBit(g -> new Sgd(OptimizerTestGroups.withLr(g, 1e-2), 0.9, 0, 1e-2, true), 2, 4, dir);
    }

    @Test
    void oneCallPerGroupIsTheTensorByTensorStepBitForBit() throws IOException {
        for (boolean nesterov : new boolean[] {false, true}) {
            assertEquals(0.0, OptimizerCases.oneCallAgainstTensorByTensor(
                    g -> new Sgd(OptimizerTestGroups.withLr(g, 1e-2), 0.9, 0, 1e-2, nesterov), 5), "nesterov " + nesterov);
        }
        assertEquals(0.0, OptimizerCases.oneCallAgainstTensorByTensor(
                g -> new Sgd(OptimizerTestGroups.withLr(g, 1e-2), 0.9, 0.1, 0, false), 5), "dampening, no weight decay");
        assertEquals(0.0, OptimizerCases.oneCallAgainstTensorByTensor(
                g -> new Sgd(OptimizerTestGroups.withLr(g, 1e-2), 0, 0, 0, false), 3), "plain");
    }
}
