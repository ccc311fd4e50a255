package sdtrainer.train.optim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Against transformers 4.33's Adafactor (the shared recipes fixtures). */
class AdafactorTest {

    @Test
    void fixedLrWithoutParameterScale() throws IOException {
        Adafactor.Options d = Adafactor.Options.defaults();
        Adafactor.Options o = new Adafactor.Options(d.eps1(), d.eps2(), d.clipThreshold(), d.decayRate(), d.beta1(),
                d.weightDecay(), false, false, false);
        OptimizerCases.assertMatches(Fixtures.require("recipes", "optimizer_adafactor_fixed_lr.safetensors"),
                g -> new Adafactor(OptimizerTestGroups.withLr(g, 1e-3), o), 1e-7, 1e-5, (opt, s) ->
                        assertEquals(1e-3, opt.lr("g")));
    }

    @Test
    void relativeStepWithParameterScale() throws IOException {
        // lr=None, scale_parameter, relative_step: step sizes min(1e-2, 1/sqrt(t)) * max(1e-3, RMS(p0))
        double[] lrs = new double[3];
        OptimizerCases.assertMatches(Fixtures.require("recipes", "optimizer_adafactor_defaults.safetensors"),
                g -> new Adafactor(g, Adafactor.Options.defaults()), 1e-7, 1e-5, (opt, s) -> lrs[s] = opt.lr("g"));
        // the lr reported is the computed one: 1e-2 times the first parameter's RMS (about 1 for randn values)
        for (double lr : lrs) assertEquals(1e-2, lr, 5e-3);
        assertEquals(lrs[0], lrs[1], 1e-4, "the RMS changes little, the relative step not at all for t < 1e4");
    }

    @Test
    void warmupInitNeedsRelativeStep() {
        assertThrows(IllegalArgumentException.class, () -> new Adafactor.Options(1e-30, 1e-3, 1, -0.8, Double.NaN, 0,
                true, false, true));
    }

    @Test
    void resumesBitForBit(@TempDir Path dir) throws IOException {
        Adafactor.Options o = new Adafactor.Options(1e-30, 1e-3, 1, -0.8, 0.9, 1e-2, true, true, true);
        OptimizerCases.assertResumesBitForBit(g -> new Adafactor(g, o), 2, 4, dir);
    }
}
