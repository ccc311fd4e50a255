package sdtrainer.log;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SvgChartTest {

    @Test
    void shortSeriesKeepTheirFinitePoints() {
        double[][] p = SvgChart.downsample(new double[] {1, 2, 3, 4}, new double[] {5, Double.NaN, 7, Double.POSITIVE_INFINITY}, 10);
        assertArrayEquals(new double[] {1, 3}, p[0]);
        assertArrayEquals(new double[] {5, 7}, p[1]);
    }

    @Test
    void longSeriesAreAveragedIntoBuckets() {
        int n = 10_000;
        double[] x = new double[n], y = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = i + 1;
            y[i] = i % 2 == 0 ? 1 : 3;
        }
        double[][] p = SvgChart.downsample(x, y, 2000);
        assertEquals(2000, p[0].length);
        assertEquals(3, p[0][0], 1e-12, "first bucket: steps 1..5");
        for (int i = 1; i < p[0].length; i++) assertTrue(p[0][i] > p[0][i - 1], "x stays increasing");
        assertEquals(x[n - 1] - 2, p[0][1999], 1e-12);
        double mean = 0;
        for (double v : p[1]) mean += v / p[1].length;
        assertEquals(2, mean, 1e-3, "averaging keeps the level of the curve");
    }

    @Test
    void ticksAreRoundAndCoverTheRange() {
        assertArrayEquals(new double[] {0, 0.05, 0.1, 0.15, 0.2}, SvgChart.ticks(0.013, 0.18, 4), 1e-12);
        double[] steps = SvgChart.ticks(1, 9000, 6);
        assertEquals(0, steps[0]);
        assertEquals(10_000, steps[steps.length - 1], 1e-9);
        assertEquals(2000, steps[1] - steps[0], 1e-9);
    }

    @Test
    void labelsHaveTheDigitsTheStepNeeds() {
        assertEquals("0", SvgChart.label(0, 0.05));
        assertEquals("2000", SvgChart.label(2000, 2000));
        assertEquals("0.15", SvgChart.label(0.15000000000000002, 0.05));
        assertEquals("0.2", SvgChart.label(0.2, 0.1));
        assertEquals("3.4", SvgChart.label(3.4000000000000004, 0.2));
        assertEquals("1.0e-04", SvgChart.label(1e-4, 2e-5));
        assertEquals("1.05e-04", SvgChart.label(1.05e-4, 5e-6), "a flat lr curve's ticks stay distinct");
    }

    @Test
    void emptyAndFlatCharts() {
        String empty = SvgChart.render("nothing", "step", List.of(new SvgChart.Series("a", "#000000", 1, new double[0], new double[0])));
        assertTrue(empty.contains("no data yet"));
        assertFalse(empty.contains("<polyline"));
        String flat = SvgChart.render("flat", "step", List.of(new SvgChart.Series("lr", "#123456", 1,
                new double[] {1, 2, 3}, new double[] {1e-4, 1e-4, 1e-4})));
        assertTrue(flat.contains("stroke=\"#123456\""));
        assertFalse(flat.contains("NaN") || flat.contains("Infinity"), flat);
    }
}
