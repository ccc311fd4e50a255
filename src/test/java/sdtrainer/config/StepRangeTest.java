package sdtrainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StepRangeTest {

    @Test
    void parsesTwoFractions() {
        assertEquals(new StepRange(0, 1), StepRange.parse("0,1"));
        assertEquals(new StepRange(0.5, 0.75), StepRange.parse("0.5,0.75"));
    }

    @Test
    void emptyRangeSaysSo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StepRange.parse("0.5,0.5"));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
    }

    @Test
    void outsideUnitIntervalSaysSo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StepRange.parse("0,1.5"));
        assertTrue(e.getMessage().contains("[0,1]"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"1,0", "-0.1,1", "0.5", "0,0.5,1", "a,b", "NaN,1", "", "0,"})
    void rejectsMalformedRanges(String text) {
        assertThrows(IllegalArgumentException.class, () -> StepRange.parse(text));
    }
}
