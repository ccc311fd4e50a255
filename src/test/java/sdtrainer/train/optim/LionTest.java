package sdtrainer.train.optim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LionTest {

    @Test
    void matchesLionPytorch() throws IOException {
        // lion_pytorch.Lion(params, lr=1e-4, weight_decay=1e-2), betas (0.9, 0.99)
        OptimizerCases.assertMatches(Fixtures.require("recipes", "optimizer_lion.safetensors"),
                groups -> new Lion(OptimizerTestGroups.withLr(groups, 1e-4), 0.9, 0.99, 1e-2), 1e-7, 1e-6, (o, s) -> {});
    }

    @Test
    void resumesBitForBit(@TempDir Path dir) throws IOException {
        OptimizerCases.assertResumesBitForBit(g -> new Lion(OptimizerTestGroups.withLr(g, 1e-3), 0.9, 0.99, 1e-2), 2, 4, dir);
    }

    @Test
    void oneCallPerGroupIsTheTensorByTensorStepBitForBit() throws IOException {
        assertEquals(0.0, OptimizerCases.oneCallAgainstTensorByTensor(
                g -> new Lion(OptimizerTestGroups.withLr(g, 1e-4), 0.9, 0.99, 1e-2), 5));
    }
}
