package sdtrainer.log;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A line chart as inline SVG: linear axes with round-number ticks, one polyline per series and a legend.
 * Series longer than {@link #MAX_POINTS} are averaged into that many buckets so a long run's page stays light.
 */
final class SvgChart {
    static final int MAX_POINTS = 2000;

    private static final int WIDTH = 960, HEIGHT = 280;
    private static final int LEFT = 72, RIGHT = 16, TOP = 30, BOTTOM = 36;

    /** One curve; {@code x} and {@code y} have the same length, non-finite {@code y} values are gaps. */
    record Series(String name, String colour, double strokeWidth, double[] x, double[] y) {
        Series {
            if (x.length != y.length) throw new IllegalArgumentException(x.length + " x values but " + y.length + " y values");
        }
    }

    private SvgChart() {}

    /** The chart as an {@code <svg>} element; an empty chart says so instead of drawing axes. */
    static String render(String title, String xLabel, List<Series> series) {
        List<double[][]> points = new ArrayList<>();
        double xMin = Double.POSITIVE_INFINITY, xMax = Double.NEGATIVE_INFINITY;
        double yMin = Double.POSITIVE_INFINITY, yMax = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            double[][] p = downsample(s.x(), s.y(), MAX_POINTS);
            points.add(p);
            for (int i = 0; i < p[0].length; i++) {
                xMin = Math.min(xMin, p[0][i]);
                xMax = Math.max(xMax, p[0][i]);
                yMin = Math.min(yMin, p[1][i]);
                yMax = Math.max(yMax, p[1][i]);
            }
        }
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">",
                WIDTH, HEIGHT, Report.escape(title)));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" class=\"title\">%s</text>", LEFT, Report.escape(title)));
        if (xMin > xMax) {
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" class=\"empty\">no data yet</text></svg>",
                    WIDTH / 2, HEIGHT / 2));
            return svg.toString();
        }
        // A flat curve still needs a visible band around it.
        if (yMax - yMin < 1e-12 * Math.max(1, Math.abs(yMax))) {
            double pad = yMax == 0 ? 1 : Math.abs(yMax) * 0.1;
            yMin -= pad;
            yMax += pad;
        }
        if (xMax == xMin) xMax = xMin + 1;
        double[] yTicks = ticks(yMin, yMax, 5);
        double[] xTicks = ticks(xMin, xMax, 6);
        yMin = Math.min(yMin, yTicks[0]);
        yMax = Math.max(yMax, yTicks[yTicks.length - 1]);
        Axis ax = new Axis(xMin, xMax, LEFT, WIDTH - RIGHT);
        Axis ay = new Axis(yMin, yMax, HEIGHT - BOTTOM, TOP);

        svg.append("<g class=\"grid\">");
        for (double t : yTicks) {
            double py = ay.map(t);
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>", LEFT, WIDTH - RIGHT, py, py));
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" class=\"ytick\">%s</text>", LEFT - 6, py + 4, label(t, yTicks[1] - yTicks[0])));
        }
        for (double t : xTicks) {
            if (t < xMin || t > xMax) continue;
            double px = ax.map(t);
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" class=\"xtick\">%s</text>", px, HEIGHT - BOTTOM + 16, label(t, xTicks[1] - xTicks[0])));
        }
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" class=\"xlabel\">%s</text>",
                WIDTH - RIGHT, HEIGHT - 4, Report.escape(xLabel)));
        svg.append("</g>");

        int legendX = WIDTH - RIGHT;
        for (int s = series.size() - 1; s >= 0; s--) {
            Series serie = series.get(s);
            String name = Report.escape(serie.name());
            legendX -= 14 + 7 * serie.name().length() + 18;
            svg.append(String.format(Locale.ROOT,
                    "<rect x=\"%d\" y=\"10\" width=\"14\" height=\"4\" fill=\"%s\"/><text x=\"%d\" y=\"17\" class=\"legend\">%s</text>",
                    legendX, serie.colour(), legendX + 18, name));
        }
        for (int s = 0; s < series.size(); s++) {
            double[][] p = points.get(s);
            if (p[0].length == 0) continue;
            StringBuilder coords = new StringBuilder();
            for (int i = 0; i < p[0].length; i++) {
                if (i > 0) coords.append(' ');
                coords.append(String.format(Locale.ROOT, "%.1f,%.1f", ax.map(p[0][i]), ay.map(p[1][i])));
            }
            Series serie = series.get(s);
            svg.append(String.format(Locale.ROOT,
                    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-linejoin=\"round\" points=\"%s\"/>",
                    serie.colour(), serie.strokeWidth(), coords));
        }
        return svg.append("</svg>").toString();
    }

    /**
     * At most {@code max} points: the finite ones as they are when few enough, otherwise the means of
     * {@code max} equal runs of consecutive points (runs with no finite value are dropped).
     * Returns {@code {xs, ys}}.
     */
    static double[][] downsample(double[] x, double[] y, int max) {
        int n = x.length;
        int buckets = Math.min(n, max);
        double[] xs = new double[buckets], ys = new double[buckets];
        int kept = 0;
        for (int b = 0; b < buckets; b++) {
            int from = (int) ((long) b * n / buckets), to = (int) ((long) (b + 1) * n / buckets);
            double sx = 0, sy = 0;
            int count = 0;
            for (int i = from; i < to; i++) {
                if (!Double.isFinite(y[i]) || !Double.isFinite(x[i])) continue;
                sx += x[i];
                sy += y[i];
                count++;
            }
            if (count == 0) continue;
            xs[kept] = sx / count;
            ys[kept] = sy / count;
            kept++;
        }
        return new double[][] {Arrays.copyOf(xs, kept), Arrays.copyOf(ys, kept)};
    }

    /** About {@code target} round tick values (1, 2 or 5 times a power of ten) covering [min, max]. */
    static double[] ticks(double min, double max, int target) {
        double step = niceStep((max - min) / target);
        double first = Math.floor(min / step) * step, last = Math.ceil(max / step) * step;
        int count = (int) Math.round((last - first) / step) + 1;
        double[] ticks = new double[count];
        for (int i = 0; i < count; i++) ticks[i] = first + i * step;
        return ticks;
    }

    private static double niceStep(double raw) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        double f = raw / magnitude;
        double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
        return nice * magnitude;
    }

    /** Short tick text with just enough digits to tell ticks {@code step} apart; scientific for learning rates and the like. */
    static String label(double v, double step) {
        if (v == 0) return "0";
        double a = Math.abs(v);
        int stepExponent = (int) Math.floor(Math.log10(step));
        if (a >= 1e-3 && a < 1e6) {
            return String.format(Locale.ROOT, "%." + Math.min(6, Math.max(0, -stepExponent)) + "f", v);
        }
        int digits = Math.min(6, Math.max(1, (int) Math.floor(Math.log10(a)) - stepExponent));
        return String.format(Locale.ROOT, "%." + digits + "e", v);
    }

    /** Linear map from data to pixel coordinates. */
    private record Axis(double min, double max, double from, double to) {
        double map(double v) {
            return from + (v - min) / (max - min) * (to - from);
        }
    }
}
