package sdtrainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LearningRatesTest {

    @Test
    void oneValueSetsBoth() {
        assertEquals(new LearningRates(5e-6, 5e-6), LearningRates.parse("5e-6"));
    }

    @Test
    void twoValuesAreTextEncoderThenUnet() {
        LearningRates rates = LearningRates.parse("1e-5,1e-4");
        assertEquals(1e-5, rates.teLr());
        assertEquals(1e-4, rates.unetLr());
    }

    @Test
    void notANumberShowsTheExpectedForm() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LearningRates.parse("fast"));
        assertTrue(e.getMessage().contains("'fast' is not a number"), e.getMessage());
        assertTrue(e.getMessage().contains("5e-6,1e-4"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"-1e-5", "1e-5,-1", "1,2,3", "", "Infinity", "NaN"})
    void rejectsMalformedRates(String text) {
        assertThrows(IllegalArgumentException.class, () -> LearningRates.parse(text));
    }
}
