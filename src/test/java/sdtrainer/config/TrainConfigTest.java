package sdtrainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TrainConfigTest {

    @Test
    void defaultsAreTheOriginalTools() {
        TrainConfig config = new TrainConfig();
        assertEquals(new Resolution(512, 512), config.resolution());
        assertEquals(4, config.batchSize());
        assertEquals(new LearningRates(5e-6, 5e-6), config.learningRates());
        assertEquals(LrScheduler.CONSTANT, config.lrScheduler());
        assertEquals(10, config.epochs());
        assertEquals(5, config.saveNEpochs());
        assertEquals(new StepRange(0, 1), config.stepRange());
        assertEquals(1, config.minibatchRepeat());
        assertEquals(0, config.lora());
        assertFalse(config.trainEncoder() || config.amp() || config.gradientCheckpointing() || config.useBucket()
                || config.wandb() || config.upOnly() || config.vPrediction() || config.mask());
        assertTrue(config.model().isEmpty() && config.dataset().isEmpty() && config.output().isEmpty()
                && config.imageLog().isEmpty() && config.prompt().isEmpty() && config.resumeLora().isEmpty());
    }

    @Test
    void defaultsOfTheAddedOptions() {
        TrainConfig config = new TrainConfig();
        assertEquals(1.0, config.loraAlpha());
        assertEquals(NetworkType.LORA, config.network());
        assertEquals(4, config.ehGroups());
        assertEquals(SavePrecision.FP32, config.savePrecision());
        assertEquals(OnBadSample.FAIL, config.onBadSample());
        assertEquals(0, config.threads());
        assertTrue(config.seed().isEmpty() && config.device().isEmpty() && config.logDir().isEmpty());
    }
}
