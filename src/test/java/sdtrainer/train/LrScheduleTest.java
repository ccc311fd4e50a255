package sdtrainer.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class LrScheduleTest {

    @Test
    void constantIgnoresWarmupAsDiffusersDoes() {
        LrSchedule s = LrSchedule.of("constant", 50, 1000);
        assertEquals(1.0, s.factor(0));
        assertEquals(1.0, s.factor(25));
        assertEquals(1.0, s.factor(5000));
    }

    @Test
    void constantWithWarmupRampsFromZero() {
        LrSchedule s = LrSchedule.of("constant_with_warmup", 10, 1000);
        assertEquals(0.0, s.factor(0));
        assertEquals(0.5, s.factor(5));
        assertEquals(1.0, s.factor(10));
        assertEquals(1.0, s.factor(1000));
    }

    @Test
    void linearWarmsUpThenDecaysToZero() {
        LrSchedule s = LrSchedule.of("linear", 10, 110);
        assertEquals(0.0, s.factor(0));
        assertEquals(0.3, s.factor(3), 1e-15);
        assertEquals(1.0, s.factor(10));
        assertEquals(0.5, s.factor(60));
        assertEquals(0.01, s.factor(109), 1e-15);
        assertEquals(0.0, s.factor(110));
        assertEquals(0.0, s.factor(500));
        assertEquals(1.0, LrSchedule.of("linear", 0, 100).factor(0), "no warm-up starts at full lr");
    }

    @Test
    void cosineIsAHalfCosineAfterWarmup() {
        LrSchedule s = LrSchedule.of("cosine", 10, 110);
        assertEquals(0.0, s.factor(0));
        assertEquals(0.9, s.factor(9), 1e-15);
        assertEquals(1.0, s.factor(10));
        assertEquals(0.5 * (1 + Math.cos(Math.PI * 0.25)), s.factor(35), 1e-15);
        assertEquals(0.5, s.factor(60), 1e-15);
        assertEquals(0.0, s.factor(110), 1e-15);
        // diffusers does not clamp progress: past the end the half cosine climbs again
        assertEquals(0.5, s.factor(160), 1e-15);
    }

    @Test
    void fivePercentWarmupAsTheTrainerPassesIt() {
        int total = 2000, warmup = total * 5 / 100;
        LrSchedule s = LrSchedule.of("cosine", warmup, total);
        assertEquals(0.5, s.factor(50));
        assertEquals(1.0, s.factor(100));
        assertTrue(s.factor(1999) < 1e-5);
    }

    @Test
    void unknownNamesAndNegativeStepsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LrSchedule.of("inverse_sqrt", 0, 10));
        assertTrue(e.getMessage().contains("inverse_sqrt"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of("linear", -1, 10));
    }

    /**
     * Every step of diffusers v0.21.4's get_scheduler curves (LambdaLR, lr 1e-3) recorded by
     * src/test/resources/recipe/make_reference.py, past the end of training too.
     */
    @Test
    void curvesMatchDiffusersGetScheduler() throws java.io.IOException {
        com.fasterxml.jackson.databind.JsonNode ref;
        try (java.io.InputStream in = getClass().getResourceAsStream("/recipe/reference.json")) {
            ref = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in);
        }
        java.util.Set<String> kinds = new java.util.TreeSet<>();
        for (com.fasterxml.jackson.databind.JsonNode c : ref.get("lr_curves")) {
            double lr = c.get("lr").asDouble();
            LrSchedule s = LrSchedule.of(c.get("name").asText(), c.get("warmup").asInt(), c.get("total").asInt(),
                    c.path("num_cycles").asInt(1), c.path("power").asDouble(1.0), lr);
            com.fasterxml.jackson.databind.JsonNode lrs = c.get("lrs");
            for (int step = 0; step < lrs.size(); step++) {
                assertEquals(lrs.get(step).asDouble(), lr * s.factor(step), 1e-18, c + " step " + step);
            }
            kinds.add(c.get("name").asText());
        }
        assertEquals(6, kinds.size(), "every kind is covered: " + kinds);
    }

    @Test
    void polynomialNeedsAnLrAboveItsEnd() {
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of("polynomial", 0, 10, 1, 1.0, 1e-7));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of("cosine_with_restarts", 0, 10, 0, 1.0, 1e-4));
    }
}
